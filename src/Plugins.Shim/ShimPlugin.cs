using Isola.Plugins;
using Isola.Plugins.Shim;
using Isola.Plugins.Shim.Controller;
using Isola.Plugins.Shim.Executor;

[assembly: IsolaPlugin(typeof(ShimPlugin))]

namespace Isola.Plugins.Shim;

/// <summary>Registers the <c>shim</c> controller (pause sandboxes on containerd-shim-runc-v2) and the Task API
/// executor for ttrpc task addresses (Unix socket, vsock, hybrid vsock).</summary>
public sealed class ShimPlugin : IIsolaPlugin
{
    /// <inheritdoc />
    public string Name => "shim";

    /// <inheritdoc />
    public void Register(IPluginRegistry registry)
    {
        registry.AddController(new ShimControllerFactory());
        registry.AddExecutor(new ShimTaskExecutor(TimeSpan.FromSeconds(30)));
    }
}
