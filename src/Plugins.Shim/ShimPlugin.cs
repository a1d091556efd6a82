using Isola.Plugins;
using Isola.Plugins.Shim;
using Isola.Plugins.Shim.Controller;

[assembly: IsolaPlugin(typeof(ShimPlugin))]

namespace Isola.Plugins.Shim;

/// <summary>Registers the <c>shim</c> controller: pause sandboxes on containerd-shim-runc-v2. Their containers, and the
/// pause task itself, are reached through the Task API plugin's executor for the shim's ttrpc address.</summary>
public sealed class ShimPlugin : IIsolaPlugin
{
    /// <inheritdoc />
    public string Name => "shim";

    /// <inheritdoc />
    public void Register(IPluginRegistry registry) => registry.AddController(new ShimControllerFactory());
}
