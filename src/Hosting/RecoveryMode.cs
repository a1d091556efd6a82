namespace Isola.Hosting;

/// <summary>How much a host reconciles with the controllers when it starts (<c>Isola:Recovery</c>).</summary>
public enum RecoveryMode
{
    /// <summary>For long-running hosts (embedding applications, <c>isola serve</c>): every record is reconciled at
    /// start (Status of each live sandbox, with bounded concurrency) and a background Wait is armed per Ready sandbox.</summary>
    Full,

    /// <summary>For short-lived hosts (each <c>isola</c> command): only half-done intents (Creating, Starting, Stopping,
    /// Removing) are finished at start and no background Wait is armed; a sandbox's status is refreshed when an
    /// operation touches it, and listing refreshes with bounded concurrency.</summary>
    OnDemand,
}
