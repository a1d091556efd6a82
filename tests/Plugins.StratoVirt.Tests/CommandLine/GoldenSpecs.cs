using Isola.Vmm;

namespace Isola.Plugins.StratoVirt.Tests.CommandLine;

/// <summary>Launch specs shared by the golden command-line tests.</summary>
internal static class GoldenSpecs
{
    public static VmLaunchSpec Spec(string binary, string machine, bool shared, Dictionary<string, string>? extra = null, uint? cid = null) => new()
    {
        Id = "pod1",
        StateDirectory = "/run/isola/pod1",
        Binary = binary,
        Kernel = "/var/lib/isola/vmlinux",
        Initrd = "/var/lib/isola/initrd.gz",
        KernelParams = "task.log_level=debug",
        Vcpus = 2,
        MemoryMiB = 1024,
        MachineType = machine,
        SharedDirectory = shared ? "/run/isola/pod1/shared" : null,
        VirtiofsDaemon = shared ? "/usr/bin/virtiofsd" : null,
        VsockCid = cid,
        Extra = extra ?? new Dictionary<string, string>(),
    };
}
