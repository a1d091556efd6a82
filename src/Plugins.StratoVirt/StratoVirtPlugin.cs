using System.Runtime.Versioning;
using Isola.Plugins;
using Isola.Plugins.StratoVirt;
using Isola.Plugins.StratoVirt.Controller;
using Isola.Plugins.StratoVirt.Vmm;

[assembly: IsolaPlugin(typeof(StratoVirtPlugin))]
[assembly: SupportedOSPlatform("linux")]

namespace Isola.Plugins.StratoVirt;

/// <summary>The StratoVirt plugin: the "stratovirt" and "qemu" VMMs and the "vm" controller that drives them.</summary>
public sealed class StratoVirtPlugin : IIsolaPlugin
{
    /// <inheritdoc />
    public string Name => "stratovirt";

    /// <inheritdoc />
    public void Register(IPluginRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(registry);
        registry.AddVmm(new StratoVirtVmm());
        registry.AddVmm(new QemuVmm());
        registry.AddController(new VmControllerFactory());
    }
}
