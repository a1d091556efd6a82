namespace Isola;

/// <summary>A handle on one sandbox. Operations are serialised per sandbox, also across host processes.</summary>
public interface ISandbox
{
    /// <summary>The sandbox id.</summary>
    string Id { get; }

    /// <summary>The sandbox name.</summary>
    string Name { get; }

    /// <summary>The latest snapshot of the sandbox's record.</summary>
    SandboxInfo Info { get; }

    /// <summary>The containers in this sandbox.</summary>
    IContainers Containers { get; }

    /// <summary>Starts a Created sandbox and returns once it is Ready; a failed start shuts it down (nothing leaks).</summary>
    Task StartAsync(CancellationToken cancellationToken = default);

    /// <summary>Asks the controller for the sandbox's status, updates the record and returns it.</summary>
    Task<SandboxInfo> InspectAsync(CancellationToken cancellationToken = default);

    /// <summary>Stops the sandbox (graceful for up to <paramref name="timeout"/>, default from configuration). Idempotent.</summary>
    Task StopAsync(TimeSpan? timeout = null, CancellationToken cancellationToken = default);

    /// <summary>Stops it if needed, releases everything and removes the record. Idempotent.</summary>
    Task RemoveAsync(CancellationToken cancellationToken = default);

    /// <summary>Blocks until the sandbox has exited.</summary>
    Task<ExitStatus> WaitAsync(CancellationToken cancellationToken = default);

    /// <summary>Changes the sandbox's resources.</summary>
    Task UpdateResourcesAsync(LinuxResources resources, CancellationToken cancellationToken = default);

    /// <summary>The platform it runs containers for.</summary>
    Task<PlatformInfo> PlatformAsync(CancellationToken cancellationToken = default);
}
