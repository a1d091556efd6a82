namespace Isola.Hosting.Sandboxes;

/// <summary>
/// What the sandbox side needs of a sandbox's containers. Declared here and implemented by the containers' code, so
/// containers depend on sandboxes and not the other way round. The three cleanups run under the sandbox's lock.
/// </summary>
internal interface ISandboxContainers
{
    /// <summary>The containers of <paramref name="sandbox"/> (its <see cref="ISandbox.Containers"/>).</summary>
    IContainers Of(Sandbox sandbox);

    /// <summary>Before a Ready sandbox is removed: takes every container down through the task service (Kill, Task
    /// Delete, Purge) and drops their records. Best effort.</summary>
    Task DeleteAllAsync(SandboxScope scope, CancellationToken cancellationToken);

    /// <summary>Records the exits the task service reports for the containers the record says run. Best effort.</summary>
    Task RefreshAsync(SandboxScope scope, CancellationToken cancellationToken);

    /// <summary>Undoes the creations a crash interrupted (containers still <see cref="ContainerState.Unknown"/>).</summary>
    Task UndoInterruptedCreatesAsync(SandboxScope scope, CancellationToken cancellationToken);
}
