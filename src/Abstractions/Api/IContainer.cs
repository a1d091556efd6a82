namespace Isola;

/// <summary>A handle on one container.</summary>
public interface IContainer
{
    /// <summary>The container id.</summary>
    ContainerId Id { get; }

    /// <summary>The sandbox id.</summary>
    SandboxId SandboxId { get; }

    /// <summary>The latest snapshot.</summary>
    ContainerInfo Info { get; }

    /// <summary>Starts a created container.</summary>
    Task StartAsync(CancellationToken cancellationToken = default);

    /// <summary>Blocks until the container's init process exits.</summary>
    Task<ExitStatus> WaitAsync(CancellationToken cancellationToken = default);

    /// <summary>Sends a signal (default SIGTERM) to the container's init process, or to all its processes.</summary>
    Task KillAsync(uint signal = 15, bool all = false, CancellationToken cancellationToken = default);

    /// <summary>SIGTERM, then SIGKILL after <paramref name="timeout"/> if it has not exited. Idempotent.</summary>
    Task StopAsync(TimeSpan timeout, CancellationToken cancellationToken = default);

    /// <summary>Runs a process in the container and waits for it; returns its exit.</summary>
    Task<ExitStatus> ExecAsync(ExecSpec spec, CancellationToken cancellationToken = default);

    /// <summary>Deletes the container (stopping it first when <paramref name="force"/>) and purges it from the sandbox. Idempotent.</summary>
    Task DeleteAsync(bool force = false, CancellationToken cancellationToken = default);

    /// <summary>Asks the task service for the current state and returns the updated snapshot.</summary>
    Task<ContainerInfo> InspectAsync(CancellationToken cancellationToken = default);
}
