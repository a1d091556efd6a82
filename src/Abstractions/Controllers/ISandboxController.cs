namespace Isola.Controllers;

/// <summary>
/// Drives the lifecycle of sandboxes of one runtime handler: the ten operations of the Sandbox API.
/// The host calls every operation but <see cref="WaitAsync"/> under a deadline from configuration, persists its own
/// record before each side effect, and serialises lifecycle calls per sandbox, so an implementation need not lock.
/// Implementations must treat "already gone" as success in <see cref="StopAsync"/> and <see cref="ShutdownAsync"/>.
/// </summary>
public interface ISandboxController
{
    /// <summary>Creates the sandbox's resources (directories, bundle, VM config) without starting anything.</summary>
    Task CreateAsync(SandboxContext sandbox, CancellationToken cancellationToken);

    /// <summary>Starts the sandbox and returns where its Task API is served.</summary>
    Task<ControllerStartResult> StartAsync(SandboxContext sandbox, CancellationToken cancellationToken);

    /// <summary>The platform the sandbox runs containers for.</summary>
    Task<PlatformInfo> PlatformAsync(SandboxContext sandbox, CancellationToken cancellationToken);

    /// <summary>Makes a container (or an exec process) ready for the task service: writes its bundle, shares or
    /// hot-plugs its rootfs. Returns the bundle path and rootfs mounts to hand to the task service's Create.</summary>
    Task<PrepareResult> PrepareAsync(SandboxContext sandbox, PrepareRequest request, CancellationToken cancellationToken);

    /// <summary>Undoes <see cref="PrepareAsync"/> for a container or exec process. Unknown ids are not an error.</summary>
    Task PurgeAsync(SandboxContext sandbox, PurgeRequest request, CancellationToken cancellationToken);

    /// <summary>Changes the resources of the sandbox (container id empty) or of one container.</summary>
    Task UpdateResourcesAsync(SandboxContext sandbox, UpdateResourcesRequest request, CancellationToken cancellationToken);

    /// <summary>Stops the sandbox: graceful for up to <paramref name="timeout"/>, then forced. Stopping a stopped
    /// or missing sandbox succeeds.</summary>
    Task StopAsync(SandboxContext sandbox, TimeSpan timeout, CancellationToken cancellationToken);

    /// <summary>Blocks until the sandbox exits and reports how. Long-running: cancelled only through the token.
    /// Must work again after a host restart (re-attach from <see cref="SandboxContext.ControllerData"/>). Throws
    /// <see cref="IsolaErrorCode.Unavailable"/> when the runtime cannot be reached and
    /// <see cref="IsolaErrorCode.NotFound"/> when the sandbox is gone.</summary>
    Task<ExitStatus> WaitAsync(SandboxContext sandbox, CancellationToken cancellationToken);

    /// <summary>Asks the runtime how the sandbox is doing. Throws <see cref="IsolaErrorCode.NotFound"/> when it is gone.</summary>
    Task<ControllerStatus> StatusAsync(SandboxContext sandbox, bool verbose, CancellationToken cancellationToken);

    /// <summary>Releases everything the sandbox holds (processes, VM, mounts, cgroups, directories). Succeeds when
    /// there is nothing left to release.</summary>
    Task ShutdownAsync(SandboxContext sandbox, CancellationToken cancellationToken);
}
