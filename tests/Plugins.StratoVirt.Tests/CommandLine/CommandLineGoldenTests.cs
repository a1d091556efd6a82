using Isola.Plugins.StratoVirt.Vmm;
using static Isola.Plugins.StratoVirt.Tests.CommandLine.GoldenSpecs;

namespace Isola.Plugins.StratoVirt.Tests.CommandLine;

/// <summary>Golden command lines for both machine types in both dialects, built from typed options. The StratoVirt
/// standard machine follows Kuasar's emission (reference/stratovirt.md §1.4); QEMU follows vm-feasibility.md.</summary>
public sealed class CommandLineGoldenTests
{
    private static string[] Split(string line) => line.Split(" | ");

    [Fact]
    public void StratoVirt_standard_machine_with_vsock_virtiofs_and_root_ports()
    {
        var spec = Spec("/usr/bin/stratovirt", "q35", shared: true,
            new() { ["HotplugSlots"] = "3", ["AgentChannel"] = "vsock", ["VsockFd"] = "3", ["Debug"] = "true" }, cid: 395568061);

        var argv = new StratoVirtVmm().BuildCommandLine(spec);

        Assert.Equal(Split(
            "/usr/bin/stratovirt | -name | sandbox-pod1 | -machine | q35,mem-share=on" +
            " | -qmp | unix:/run/isola/pod1/qmp.sock,server,nowait" +
            " | -kernel | /var/lib/isola/vmlinux | -initrd | /var/lib/isola/initrd.gz" +
            " | -append | console=hvc0 iommu=off panic=1 pcie_ports=native task.log_level=debug" +
            " | -smp | cpus=2 | -m | 1024M | -pidfile | /run/isola/pod1/vmm.pid | -D | /run/isola/pod1/vmm.log" +
            " | -global | pcie-root-port.fast-unplug=1 | -daemonize" +
            " | -object | rng-random,id=rng0,filename=/dev/urandom | -device | virtio-rng-pci,rng=rng0,id=virtio-rng0,bus=pcie.0,addr=0x1" +
            " | -device | virtio-serial-pci,id=virtio-serial0,bus=pcie.0,addr=0x2" +
            " | -chardev | file,id=charconsole0,path=/run/isola/pod1/console.log | -device | virtconsole,id=virtio-console0,chardev=charconsole0,nr=0" +
            " | -device | vhost-vsock-pci,id=vsock-395568061,guest-cid=395568061,bus=pcie.0,addr=0x3,vhostfd=3" +
            " | -chardev | socket,id=virtio-fs-pod1,path=/run/isola/pod1/virtiofs.sock,server,nowait" +
            " | -device | vhost-user-fs-pci,id=vhost-user-fs-pod1,chardev=virtio-fs-pod1,tag=kuasar,bus=pcie.0,addr=0x4" +
            " | -device | pcie-root-port,id=pcie.1,port=0x5,bus=pcie.0,addr=0x5" +
            " | -device | pcie-root-port,id=pcie.2,port=0x6,bus=pcie.0,addr=0x6" +
            " | -device | pcie-root-port,id=pcie.3,port=0x7,bus=pcie.0,addr=0x7"), argv);
    }

    [Fact]
    public void StratoVirt_microvm_uses_mmio_devices_and_no_root_ports()
    {
        var argv = new StratoVirtVmm().BuildCommandLine(Spec("/usr/bin/stratovirt", "microvm", shared: false, new() { ["DisableSeccomp"] = "true" }));

        Assert.Equal(Split(
            "/usr/bin/stratovirt | -name | sandbox-pod1 | -machine | microvm" +
            " | -qmp | unix:/run/isola/pod1/qmp.sock,server,nowait" +
            " | -kernel | /var/lib/isola/vmlinux | -initrd | /var/lib/isola/initrd.gz" +
            " | -append | console=hvc0 iommu=off panic=1 pcie_ports=native task.log_level=debug" +
            " | -smp | cpus=2 | -m | 1024M | -pidfile | /run/isola/pod1/vmm.pid | -daemonize | -disable-seccomp" +
            " | -object | rng-random,id=rng0,filename=/dev/urandom | -device | virtio-rng-device,rng=rng0,id=virtio-rng0" +
            " | -device | virtio-serial-device,id=virtio-serial0" +
            " | -chardev | file,id=charconsole0,path=/run/isola/pod1/console.log | -device | virtconsole,id=virtio-console0,chardev=charconsole0,nr=0" +
            " | -chardev | socket,id=charagent0,path=/run/isola/pod1/agent.sock,server,nowait" +
            " | -device | virtserialport,id=virtio-agent0,chardev=charagent0,nr=1,name=agent.0"), argv);
        Assert.Equal(["mmio.0x0", "mmio.0x1", "mmio.0x2", "mmio.0x3"],
            new StratoVirtVmm().Slots(Spec("/usr/bin/stratovirt", "microvm", false), VmSettings.Parse(new Dictionary<string, string>())).Select(s => s.Name));
    }

    [Fact]
    public void Qemu_microvm_with_pcie_root_ports_virtiofs_and_serial_agent()
    {
        var argv = new QemuVmm().BuildCommandLine(Spec("/usr/bin/qemu-system-x86_64", "microvm", shared: true, new() { ["HotplugSlots"] = "2" }));

        Assert.Equal(Split(
            "/usr/bin/qemu-system-x86_64 | -name | sandbox-pod1 | -machine | microvm,pit=on,pic=on,rtc=on,pcie=on,memory-backend=mem" +
            " | -accel | tcg | -nodefaults | -no-user-config | -display | none | -no-reboot | -smp | cpus=2 | -m | 1024M" +
            " | -object | memory-backend-memfd,id=mem,size=1024M,share=on" +
            " | -kernel | /var/lib/isola/vmlinux | -initrd | /var/lib/isola/initrd.gz" +
            " | -append | console=ttyS0 panic=1 pcie_ports=native tsc_early_khz=2000000 task.log_level=debug" +
            " | -serial | file:/run/isola/pod1/console.log | -qmp | unix:/run/isola/pod1/qmp.sock,server=on,wait=off" +
            " | -pidfile | /run/isola/pod1/vmm.pid | -daemonize | -global | virtio-mmio.force-legacy=false" +
            " | -object | rng-random,id=rng0,filename=/dev/urandom | -device | virtio-rng-device,rng=rng0,id=virtio-rng0" +
            " | -device | virtio-serial-device,id=virtio-serial0" +
            " | -chardev | socket,id=charagent0,path=/run/isola/pod1/agent.sock,server=on,wait=off" +
            " | -device | virtserialport,id=virtio-agent0,chardev=charagent0,name=agent.0" +
            " | -chardev | socket,id=virtio-fs0,path=/run/isola/pod1/virtiofs.sock" +
            " | -device | vhost-user-fs-device,id=vhost-user-fs0,chardev=virtio-fs0,tag=kuasar" +
            " | -device | pcie-root-port,id=pcie.1,bus=pcie.0,chassis=1,port=0x1,addr=0x1" +
            " | -device | pcie-root-port,id=pcie.2,bus=pcie.0,chassis=2,port=0x2,addr=0x2"), argv);
    }

    [Fact]
    public void Qemu_q35_with_vsock_puts_pci_devices_before_the_root_ports()
    {
        var argv = new QemuVmm().BuildCommandLine(Spec("/usr/bin/qemu-system-x86_64", "q35", shared: false,
            new() { ["HotplugSlots"] = "2", ["Accel"] = "kvm", ["AgentChannel"] = "vsock" }, cid: 7));

        Assert.Equal(Split(
            "/usr/bin/qemu-system-x86_64 | -name | sandbox-pod1 | -machine | q35 | -accel | kvm" +
            " | -nodefaults | -no-user-config | -display | none | -no-reboot | -smp | cpus=2 | -m | 1024M" +
            " | -kernel | /var/lib/isola/vmlinux | -initrd | /var/lib/isola/initrd.gz" +
            " | -append | console=ttyS0 panic=1 pcie_ports=native task.log_level=debug" +
            " | -serial | file:/run/isola/pod1/console.log | -qmp | unix:/run/isola/pod1/qmp.sock,server=on,wait=off" +
            " | -pidfile | /run/isola/pod1/vmm.pid | -daemonize | -global | ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off" +
            " | -object | rng-random,id=rng0,filename=/dev/urandom | -device | virtio-rng-pci,rng=rng0,id=virtio-rng0,bus=pcie.0,addr=0x1" +
            " | -device | vhost-vsock-pci,id=vsock-7,guest-cid=7,bus=pcie.0,addr=0x2" +
            " | -device | pcie-root-port,id=pcie.1,bus=pcie.0,chassis=1,port=0x3,addr=0x3" +
            " | -device | pcie-root-port,id=pcie.2,bus=pcie.0,chassis=2,port=0x4,addr=0x4"), argv);
        Assert.Equal([3, 4], new QemuVmm().Slots(Spec("x", "q35", false, new() { ["HotplugSlots"] = "2", ["AgentChannel"] = "vsock" }, 7),
            VmSettings.Parse(new Dictionary<string, string> { ["HotplugSlots"] = "2", ["AgentChannel"] = "vsock" })).Select(s => s.PciSlot));
    }

    [Theory]
    [InlineData("Accel", "hvf", "Accel")]
    [InlineData("HotplugSlots", "99", "HotplugSlots")]
    [InlineData("AgentChannel", "pipe", "AgentChannel")]
    [InlineData("Nope", "1", "Nope")]
    public void Bad_settings_fail_naming_the_key(string key, string value, string named)
    {
        var e = Assert.Throws<IsolaException>(() => new QemuVmm().BuildCommandLine(Spec("/q", "microvm", false, new() { [key] = value })));

        Assert.Equal(IsolaErrorCode.InvalidArgument, e.Code);
        Assert.Contains($"'{named}'", e.Message);
    }

    [Fact]
    public void A_user_tsc_setting_is_kept_and_not_duplicated()
    {
        var spec = Spec("/q", "microvm", false) with { KernelParams = "tsc_early_khz=3000000" };

        var append = new QemuVmm().BuildCommandLine(spec).SkipWhile(a => a != "-append").ElementAt(1);

        Assert.Equal("console=ttyS0 panic=1 pcie_ports=native tsc_early_khz=3000000", append);
    }

    [Fact]
    public void Each_vmm_keeps_its_own_dialect_when_given_loggers()
    {
        var spec = Spec("/v", "q35", false, new() { ["HotplugSlots"] = "2" });
        QmpVmm[] vmms = [new QemuVmm(), new StratoVirtVmm()];

        var rebuilt = vmms.Select(v => v.WithLoggers(Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance)).ToArray();

        Assert.Equal(["qemu", "stratovirt"], rebuilt.Select(v => v.Name));
        Assert.NotEqual(vmms[0].BuildCommandLine(spec), vmms[1].BuildCommandLine(spec));
        for (var i = 0; i < vmms.Length; i++)
        {
            Assert.Equal(vmms[i].BuildCommandLine(spec), rebuilt[i].BuildCommandLine(spec));
        }
    }
}
