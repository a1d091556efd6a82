using Isola.Controllers;
using Isola.Plugins.StratoVirt.Vmm;
using Isola.Vmm;
using Microsoft.Extensions.Logging;

namespace Isola.Plugins.StratoVirt.Controller;

/// <summary>The "vm" controller kind: a runtime handler's options name the VMM ("stratovirt" or "qemu", or another
/// plugin's) and the guest; see docs/vm.md.</summary>
internal sealed class VmControllerFactory : ISandboxControllerFactory
{
    public const string ControllerName = "vm";

    public string Name => ControllerName;

    public ISandboxController Create(ControllerContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var options = VmControllerOptions.Parse(context.Options, context.ConfigPath);
        IVmm vmm;
        try
        {
            vmm = context.Services.GetVmm(options.Vmm);
        }
        catch (IsolaException e) when (e.Code == IsolaErrorCode.NotFound)
        {
            throw IsolaException.InvalidArgument($"{context.ConfigPath}:Vmm = '{options.Vmm}': {e.Message}");
        }

        vmm = vmm.WithLoggerFactory(context.LoggerFactory);
        return new VmController(options, vmm, context.LoggerFactory.CreateLogger("Isola.Controllers.Vm." + context.RuntimeName));
    }
}
