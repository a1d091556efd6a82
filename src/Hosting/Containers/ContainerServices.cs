using Isola.Hosting.Configuration;
using Isola.Hosting.Sandboxes;
using Isola.Hosting.Tasks;
using Microsoft.Extensions.Logging;

namespace Isola.Hosting.Containers;

/// <summary>
/// What container code works with: the sandbox store (records, locks, scopes), controller calls (Prepare, Purge), the
/// task routing (Task API clients) and the stop grace. It is also the containers' side of
/// <see cref="ISandboxContainers"/>, which the sandbox services call, so neither side reaches into the other.
/// </summary>
internal sealed class ContainerServices(SandboxStore store, ControllerCalls controller, TaskRouting tasks, IsolaSettings settings, ILogger logger)
    : ISandboxContainers
{
    public SandboxStore Store { get; } = store;

    public ControllerCalls Controller { get; } = controller;

    public TaskRouting Tasks { get; } = tasks;

    /// <summary>Image rootfs and defaults for containers that name an image.</summary>
    public required ContainerImages Images { get; init; }

    /// <summary>The default grace of a container Stop (Timeouts:Stop).</summary>
    public TimeSpan StopTimeout => settings.StopTimeout;

    public ILogger Logger { get; } = logger;

    /// <inheritdoc />
    public IContainers Of(Sandbox sandbox) => new ContainerSet(this, sandbox);

    /// <inheritdoc />
    public Task DeleteAllAsync(SandboxScope scope, CancellationToken cancellationToken) =>
        ContainerRecovery.DeleteAllAsync(this, scope, cancellationToken);

    /// <inheritdoc />
    public Task RefreshAsync(SandboxScope scope, CancellationToken cancellationToken) =>
        ContainerRecovery.RefreshAsync(this, scope, cancellationToken);

    /// <inheritdoc />
    public Task UndoInterruptedCreatesAsync(SandboxScope scope, CancellationToken cancellationToken) =>
        ContainerRecovery.UndoInterruptedCreatesAsync(this, scope, cancellationToken);
}
