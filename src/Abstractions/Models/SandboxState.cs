namespace Isola;

/// <summary>
/// The sandbox state machine: Creating -> Created -> Starting -> Ready -> Stopping -> Stopped -> Removing -> (gone),
/// plus <see cref="Pending"/> and <see cref="Unknown"/>. The host persists the state it is about to enter
/// before calling the controller, so a crash at any point can be reconciled on restart.
/// </summary>
public enum SandboxState
{
    /// <summary>After a host restart, before the controller has answered Status.</summary>
    Unknown = 0,
    /// <summary>The host is calling the controller's Create.</summary>
    Creating,
    /// <summary>Create succeeded; the sandbox is not started.</summary>
    Created,
    /// <summary>The host is calling the controller's Start.</summary>
    Starting,
    /// <summary>The sandbox runs and accepts containers.</summary>
    Ready,
    /// <summary>The controller cannot be reached while the sandbox should run; Wait keeps retrying.</summary>
    Pending,
    /// <summary>The host is calling the controller's Stop.</summary>
    Stopping,
    /// <summary>The sandbox has exited; its resources still exist until it is removed.</summary>
    Stopped,
    /// <summary>The host is calling the controller's Shutdown; the record goes when it succeeds.</summary>
    Removing,
}
