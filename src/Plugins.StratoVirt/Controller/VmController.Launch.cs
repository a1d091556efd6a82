using System.Globalization;
using Isola.Controllers;
using Isola.Plugins.StratoVirt.Vmm;
using Isola.Plugins.StratoVirt.Vmm.Vsock;
using Isola.Vmm;
using Microsoft.Win32.SafeHandles;

namespace Isola.Plugins.StratoVirt.Controller;

/// <summary>From the sandbox record to the VMM and back: the launch spec built from the options, the recovery data
/// saved after a launch, and re-attaching to a running VM from that record.</summary>
internal sealed partial class VmController
{
    private AgentChannel Channel() =>
        _options.AgentChannel ?? (VsockCidAllocator.IsAvailable() ? AgentChannel.Vsock : AgentChannel.Serial);

    private VmLaunchSpec LaunchSpec(SandboxContext sandbox, AgentChannel channel, uint? cid, SafeFileHandle? cidHandle)
    {
        var extra = new Dictionary<string, string>(_options.Extra) { [VmSettings.AgentChannelKey] = channel.ToString() };
        if (cidHandle is not null)
        {
            extra[VmSettings.VsockFdKey] = cidHandle.DangerousGetHandle().ToString(CultureInfo.InvariantCulture);
        }

        return new VmLaunchSpec
        {
            Id = sandbox.Id,
            StateDirectory = sandbox.StateDirectory,
            Binary = _options.Binary,
            Kernel = _options.Kernel,
            Initrd = _options.Initrd,
            Image = _options.Image,
            KernelParams = _options.KernelParams,
            Vcpus = _options.Vcpus,
            MemoryMiB = _options.MemoryMiB,
            MachineType = _options.MachineType,
            SharedDirectory = _options.SharedFs ? SharedDirectory(sandbox) : null,
            VirtiofsDaemon = _options.SharedFs ? _options.VirtiofsDaemon : null,
            ConsoleLog = ConsoleLog(sandbox),
            VsockCid = cid,
            StartTimeout = _options.StartTimeout,
            Extra = extra,
        };
    }

    /// <summary>Re-attaches to the sandbox's VM from its record (after a host restart, or after the last user let go).
    /// NotFound when no VM was started or it is gone.</summary>
    private Task<IVmInstance> AttachAsync(SandboxContext sandbox, CancellationToken cancellationToken)
    {
        if (!sandbox.ControllerData.ContainsKey(RecoveryKeys.Vmm))
        {
            throw IsolaException.NotFound($"sandbox {sandbox.Id}: no VM was started");
        }

        return _vmm.AttachAsync(LaunchSpec(sandbox, Channel(), null, null), new Dictionary<string, string>(sandbox.ControllerData), cancellationToken);
    }

    private static void SaveRecovery(SandboxContext sandbox, IVmInstance vm)
    {
        foreach (var (k, v) in vm.RecoveryData)
        {
            sandbox.ControllerData[k] = v;
        }
    }

    private static string? Data(SandboxContext sandbox, string key) =>
        sandbox.ControllerData.TryGetValue(key, out var v) ? v : null;
}
