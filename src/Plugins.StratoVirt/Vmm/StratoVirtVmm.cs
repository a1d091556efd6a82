using Isola.Plugins.StratoVirt.Vmm.CommandLine;
using Isola.Plugins.StratoVirt.Vmm.Hotplug;
using Isola.Plugins.StratoVirt.Vmm.Processes;
using Isola.Vmm;
using Microsoft.Extensions.Logging;

namespace Isola.Plugins.StratoVirt.Vmm;

/// <summary>The "stratovirt" VMM: StratoVirt's command line and its microvm replaceable slots.</summary>
internal sealed class StratoVirtVmm(ILoggerFactory? loggers = null) : QmpVmm(loggers)
{
    public const string VmmName = "stratovirt";

    public override string Name => VmmName;

    public override QmpVmm WithLoggers(ILoggerFactory loggers) => new StratoVirtVmm(loggers);

    protected override string DefaultVirtiofsArgs => VirtiofsDaemon.RustTemplate;

    protected override IReadOnlyList<string> Build(VmLaunchSpec spec, VmSettings settings, VmLayout layout) =>
        StratoVirtCommandLine.Build(spec, settings, layout);

    internal override IReadOnlyList<HotplugSlot> Slots(VmLaunchSpec spec, VmSettings settings) =>
        StratoVirtCommandLine.HotplugSlots(spec, settings);
}
