using Isola.Hosting.State;

namespace Isola.Hosting.Sandboxes;

/// <summary>Makes the <see cref="Sandbox"/> handles callers get, each wired to the services its operations use.</summary>
internal sealed class SandboxHandles(
    SandboxStore store,
    ControllerCalls controller,
    SandboxLifecycle lifecycle,
    SandboxStopper stopper,
    SandboxStatus status,
    ISandboxContainers containers)
{
    /// <summary>A handle on the sandbox of <paramref name="record"/>, as the record says it is now.</summary>
    public Sandbox Of(SandboxRecord record) =>
        new(store, controller, lifecycle, stopper, status, containers, record.ToInfo(), record.Generation);
}
