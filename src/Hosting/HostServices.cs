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
    public HostServices(IsolaSettings settings, RuntimeTable runtimes, PluginCatalog plugins, ILoggerFactory loggerFactory, Func<Images.IImageStore> openImages,
        string imagesRoot, Networks.NetworkSettings networkSettings)
    {
        // One category for all of it, as before the split: operators filter on "Isola.Sandboxes".
        var logger = loggerFactory.CreateLogger("Isola.Sandboxes");
        Settings = settings;
        Store = new SandboxStore(new StateStore(settings.Root, logger), runtimes, logger);
        var controller = new ControllerCalls(settings.ControllerTimeout);
        Tasks = new TaskRouting(plugins, settings.TaskTimeout, logger);
        Images = new ContainerImages(new Lazy<Images.IImageStore>(openImages), logger) { StoreRootHint = imagesRoot };
        var containers = new ContainerServices(Store, controller, Tasks, settings, logger) { Images = Images };
        Networks = new Networks.PodNetworks(settings.Root, networkSettings, logger);
        var stopper = new SandboxStopper(Store, controller, Tasks, Networks, settings, logger);
        var status = new SandboxStatus(Store, controller, stopper, containers, settings, logger);
        Monitor = new SandboxMonitor(Store, controller, status, runtimes, settings, logger);
        var lifecycle = new SandboxLifecycle(Store, controller, Tasks, stopper, Monitor, containers, runtimes, Networks, logger);
        Recovery = new SandboxRecovery(Store, controller, Tasks, lifecycle, stopper, status, Monitor, containers, runtimes, settings, logger);
        Sandboxes = new SandboxManager(lifecycle, status, Recovery,
            new SandboxHandles(Store, controller, lifecycle, stopper, status, containers));
    }

    public IsolaSettings Settings { get; }

    public SandboxStore Store { get; }

    /// <summary>Pod networks (CNI).</summary>
    public Networks.PodNetworks Networks { get; }

    /// <summary>After recovery: undoes what belongs to sandboxes and containers that no longer exist: pod networks
    /// (their records name what to DEL) and image leases.</summary>
    public async Task ReconcileOrphansAsync(CancellationToken cancellationToken)
    {
        foreach (var id in Networks.RecordedSandboxes())
        {
            if (Store.TryLoad(id) is null)
            {
                await Networks.TearDownAsync(id, cancellationToken).ConfigureAwait(false);
            }
        }

        await Images.ReconcileAsync(holder =>
        {
            var parts = holder["container:".Length..].Split('/');
            return parts.Length == 2 && SandboxId.TryParse(parts[0], out var sandbox) && Store.TryLoad(sandbox) is { } record
                && record.Containers.Any(c => c.Id.Value == parts[1]);
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Containers run from images (the image store, opened on first use).</summary>
    public ContainerImages Images { get; }

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
