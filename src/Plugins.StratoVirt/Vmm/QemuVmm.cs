using Isola.Plugins.StratoVirt.Vmm.CommandLine;
using Isola.Plugins.StratoVirt.Vmm.Hotplug;
using Isola.Plugins.StratoVirt.Vmm.Processes;
using Isola.Vmm;
using Microsoft.Extensions.Logging;

namespace Isola.Plugins.StratoVirt.Vmm;

/// <summary>The "qemu" VMM: the same contract on qemu-system-x86_64 (microvm with pcie=on, or q35), which runs here.</summary>
internal sealed class QemuVmm(ILoggerFactory? loggers = null) : QmpVmm(loggers)
{
    public const string VmmName = "qemu";

    public override string Name => VmmName;

    public override QmpVmm WithLoggers(ILoggerFactory loggers) => new QemuVmm(loggers);

    protected override string DefaultVirtiofsArgs => VirtiofsDaemon.CTemplate;

    protected override IReadOnlyList<string> Build(VmLaunchSpec spec, VmSettings settings, VmLayout layout) =>
        QemuCommandLine.Build(spec, settings, layout);

    internal override IReadOnlyList<HotplugSlot> Slots(VmLaunchSpec spec, VmSettings settings) =>
        QemuCommandLine.HotplugSlots(spec, settings);
}
