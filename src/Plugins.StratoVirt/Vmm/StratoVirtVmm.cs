using Isola.Plugins.StratoVirt.Vmm.CommandLine;
using Isola.Plugins.StratoVirt.Vmm.Processes;
using Microsoft.Extensions.Logging;

namespace Isola.Plugins.StratoVirt.Vmm;

/// <summary>The "stratovirt" VMM: StratoVirt's command line and its microvm replaceable slots.</summary>
internal sealed class StratoVirtVmm(ILoggerFactory? loggers = null) : QmpVmm(Dialect, loggers)
{
    public const string VmmName = "stratovirt";

    private static readonly VmmDialect Dialect = new(VmmName, VirtiofsDaemon.RustTemplate,
        StratoVirtCommandLine.Build, (spec, settings) => StratoVirtCommandLine.HotplugSlots(spec, settings));

    public override QmpVmm WithLoggers(ILoggerFactory loggers) => new StratoVirtVmm(loggers);
}
