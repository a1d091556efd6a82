using Isola.Plugins.StratoVirt.Vmm.CommandLine;
using Isola.Plugins.StratoVirt.Vmm.Processes;
using Microsoft.Extensions.Logging;

namespace Isola.Plugins.StratoVirt.Vmm;

/// <summary>The "qemu" VMM: the same contract on qemu-system-x86_64 (microvm with pcie=on, or q35), which runs here.</summary>
internal sealed class QemuVmm(ILoggerFactory? loggers = null) : QmpVmm(Dialect, loggers)
{
    public const string VmmName = "qemu";

    private static readonly VmmDialect Dialect = new(VmmName, VirtiofsDaemon.CTemplate,
        QemuCommandLine.Build, (spec, settings) => QemuCommandLine.HotplugSlots(spec, settings));

    public override QmpVmm WithLoggers(ILoggerFactory loggers) => new QemuVmm(loggers);
}
