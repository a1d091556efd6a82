namespace Isola.Plugins.StratoVirt.Qmp;

/// <summary>Deadlines of a <see cref="QmpClient"/>.</summary>
internal sealed record QmpClientOptions
{
    /// <summary>Longest wait for any one command's reply (including throttling retries).</summary>
    public TimeSpan CommandTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>First delay after an OperationThrottled answer; doubles up to one second.</summary>
    public TimeSpan ThrottleBackoff { get; init; } = TimeSpan.FromMilliseconds(50);
}
