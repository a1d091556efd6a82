using Isola.Plugins;
using Isola.Plugins.Sandboxer;

[assembly: IsolaPlugin(typeof(SandboxerPlugin))]

namespace Isola.Plugins.Sandboxer;

/// <summary>Registers the <c>sandboxer</c> controller kind.</summary>
public sealed class SandboxerPlugin : IIsolaPlugin
{
    /// <inheritdoc />
    public string Name => "sandboxer";

    /// <inheritdoc />
    public void Register(IPluginRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(registry);
        registry.AddController(new SandboxerControllerFactory());
    }
}
