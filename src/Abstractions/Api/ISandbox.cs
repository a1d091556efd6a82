namespace Isola;

/// <summary>A handle on one sandbox. Operations are serialised per sandbox, also across host processes.</summary>
public interface ISandbox
{
    /// <summary>The sandbox id.</summary>
    SandboxId Id { get; }

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

    /// <summary>Stages a container or exec process for a task client outside this host (an engine that calls the Task
    /// API at <see cref="SandboxInfo.TaskAddress"/> itself, as clients of <c>isola serve</c> do): the controller's
    /// Prepare only, no task is created and the container is not listed in <see cref="Containers"/>. The result says
    /// where the bundle, rootfs and output files are as the task service sees them. Undone by
    /// <see cref="PurgeAsync"/>, or by removing the sandbox.</summary>
    Task<Controllers.PrepareResult> PrepareAsync(Controllers.PrepareRequest request, CancellationToken cancellationToken = default);

    /// <summary>Undoes <see cref="PrepareAsync"/>. Idempotent.</summary>
    Task PurgeAsync(Controllers.PurgeRequest request, CancellationToken cancellationToken = default);
}
