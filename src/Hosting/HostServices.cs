using Isola.Hosting.Configuration;
using Isola.Hosting.Containers;
using Isola.Hosting.Plugins;
using Isola.Hosting.Sandboxes;
using Isola.Hosting.State;
using Isola.Hosting.Tasks;
using Microsoft.Extensions.Logging;

namespace Isola.Hosting;

/// <summary>
/// The host's services, wired once: each gets what it uses through its constructor. Containers depend on sandboxes
/// (the store, controller calls) and on task routing; sandboxes reach containers only through
/// <see cref="ISandboxContainers"/>.
/// </summary>
internal sealed class HostServices : IAsyncDisposable
{
    public HostServices(IsolaSettings settings, RuntimeTable runtimes, PluginCatalog plugins, ILoggerFactory loggerFactory)
    {
        // One category for all of it, as before the split: operators filter on "Isola.Sandboxes".
        var logger = loggerFactory.CreateLogger("Isola.Sandboxes");
        Settings = settings;
        Store = new SandboxStore(new StateStore(settings.Root, logger), runtimes, logger);
        var controller = new ControllerCalls(settings.ControllerTimeout);
        Tasks = new TaskRouting(plugins, settings.TaskTimeout, logger);
        var containers = new ContainerServices(Store, controller, Tasks, settings, logger);
        var stopper = new SandboxStopper(Store, controller, Tasks, settings, logger);
        var status = new SandboxStatus(Store, controller, stopper, containers, settings, logger);
        Monitor = new SandboxMonitor(Store, controller, status, runtimes, settings, logger);
        var lifecycle = new SandboxLifecycle(Store, controller, Tasks, stopper, Monitor, containers, runtimes, logger);
        Recovery = new SandboxRecovery(Store, controller, Tasks, lifecycle, stopper, status, Monitor, containers, runtimes, settings, logger);
        Sandboxes = new SandboxManager(lifecycle, status, Recovery,
            new SandboxHandles(Store, controller, lifecycle, stopper, status, containers));
    }

    public IsolaSettings Settings { get; }

    public SandboxStore Store { get; }

    public TaskRouting Tasks { get; }

    public SandboxMonitor Monitor { get; }

    public SandboxRecovery Recovery { get; }

    /// <summary>The public face: <see cref="IIsola.Sandboxes"/>.</summary>
    public ISandboxes Sandboxes { get; }

    /// <summary>Stops the background Waits, then closes the Task API connections. Sandboxes keep running.</summary>
    public async ValueTask DisposeAsync()
    {
        await Monitor.DisposeAsync().ConfigureAwait(false);
        await Tasks.DisposeAsync().ConfigureAwait(false);
    }
}
