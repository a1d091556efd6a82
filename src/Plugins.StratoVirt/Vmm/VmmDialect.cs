using Isola.Plugins.StratoVirt.Vmm.Hotplug;
using Isola.Vmm;

namespace Isola.Plugins.StratoVirt.Vmm;

/// <summary>What differs between the VMMs <see cref="QmpVmm"/> drives: the name, the command line, the hot-plug slots
/// that command line creates, and the virtiofs daemon arguments used when the launch spec sets none.</summary>
internal sealed record VmmDialect(
    string Name,
    string DefaultVirtiofsArgs,
    Func<VmLaunchSpec, VmSettings, VmLayout, IReadOnlyList<string>> BuildCommandLine,
    Func<VmLaunchSpec, VmSettings, IReadOnlyList<HotplugSlot>> HotplugSlots);
