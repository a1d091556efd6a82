using Isola.Plugins.StratoVirt.Vmm.Hotplug;
using Isola.Vmm;

namespace Isola.Plugins.StratoVirt.Vmm.CommandLine;

/// <summary>
/// The same VM in QEMU's spelling (reference/stratovirt.md §6, vm-feasibility.md): no -disable-seccomp or
/// fast-unplug, shared guest RAM through a memfd backend instead of mem-share=on, "server=on,wait=off" sockets, and
/// hot-plug through pcie-root-ports, which on microvm needs pcie=on. Under TCG a microvm guest needs tsc_early_khz=
/// (no HPET or PM timer to calibrate the TSC), and vhost-user-fs on virtio-mmio needs modern (non-legacy) transport.
/// </summary>
internal static class QemuCommandLine
{
    /// <summary>Kernel parameters always set; the user's come after them.</summary>
    public const string BaseKernelParams = "console=ttyS0 panic=1 pcie_ports=native";

    /// <summary>Added for microvm under TCG unless the user sets tsc_early_khz themselves.</summary>
    public const string TcgMicrovmTsc = "tsc_early_khz=2000000";

    public static IReadOnlyList<string> Build(VmLaunchSpec spec, VmSettings settings, VmLayout layout)
    {
        var microvm = MachineKind.IsMicrovm(spec.MachineType);
        var slot = 0;
        string Dev(string name, params string[] parts) => microvm
            ? string.Join(',', [name + "-device", .. parts])
            : string.Join(',', [name + "-pci", .. parts, "bus=pcie.0", "addr=" + MachineKind.Hex(++slot)]);

        var machine = spec.MachineType;
        if (microvm && !machine.Contains("pit=", StringComparison.Ordinal))
        {
            machine += ",pit=on,pic=on,rtc=on";
        }

        var ports = settings.HotplugSlots;
        if (microvm && ports > 0 && !machine.Contains("pcie=", StringComparison.Ordinal))
        {
            machine += ",pcie=on";
        }

        if (spec.SharedDirectory is not null)
        {
            machine += ",memory-backend=mem";
        }

        var a = new List<string> { spec.Binary, "-name", "sandbox-" + spec.Id, "-machine", machine, "-accel", settings.Accel };
        a.AddRange(["-nodefaults", "-no-user-config", "-display", "none", "-no-reboot"]);
        a.AddRange(["-smp", $"cpus={spec.Vcpus}", "-m", $"{spec.MemoryMiB}M"]);
        if (spec.SharedDirectory is not null)
        {
            a.AddRange(["-object", $"memory-backend-memfd,id=mem,size={spec.MemoryMiB}M,share=on"]);
        }

        if (settings.Firmware is not null)
        {
            a.AddRange(["-drive", $"file={settings.Firmware},if=pflash,format=raw,unit=0,readonly=on"]);
        }

        a.AddRange(["-kernel", spec.Kernel]);
        if (spec.Initrd is not null)
        {
            a.AddRange(["-initrd", spec.Initrd]);
        }

        var append = BaseKernelParams;
        if (spec.Image is not null)
        {
            append += " root=/dev/vda ro rootfstype=ext4";
        }

        if (microvm && settings.Accel == "tcg" && !spec.KernelParams.Contains("tsc_early_khz=", StringComparison.Ordinal))
        {
            append += " " + TcgMicrovmTsc;
        }

        a.AddRange(["-append", (append + " " + spec.KernelParams).Trim()]);
        a.AddRange(["-serial", "file:" + (spec.ConsoleLog ?? layout.DefaultConsoleLog)]);
        a.AddRange(["-qmp", $"unix:{layout.QmpSocket},server=on,wait=off"]);
        a.AddRange(["-pidfile", layout.PidFile, "-daemonize"]);
        if (settings.Debug)
        {
            a.AddRange(["-D", layout.DebugLog]);
        }

        if (microvm)
        {
            a.AddRange(["-global", "virtio-mmio.force-legacy=false"]);
        }
        else if (ports > 0 && machine.StartsWith("q35", StringComparison.Ordinal))
        {
            // q35 defaults to ACPI hot-plug, which takes the root ports away from the guest's native PCIe hot-plug
            // (pciehp, what pcie_ports=native asks for and what StratoVirt's root ports use): plugged disks never appear.
            a.AddRange(["-global", "ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off"]);
        }

        a.AddRange(["-object", "rng-random,id=rng0,filename=/dev/urandom", "-device", Dev("virtio-rng", "rng=rng0", "id=virtio-rng0")]);
        if (spec.Image is not null)
        {
            a.AddRange(["-drive", $"id=rootfs,file={spec.Image},if=none,format=raw,readonly=on", "-device", Dev("virtio-blk", "drive=rootfs", "id=blk-0")]);
        }

        if (settings.AgentChannel == AgentChannel.Vsock)
        {
            var cid = spec.VsockCid ?? throw IsolaException.InvalidArgument($"VM {spec.Id}: the vsock agent channel needs a guest CID");
            var vsock = Dev("vhost-vsock", $"id=vsock-{cid}", $"guest-cid={cid}");
            a.AddRange(["-device", settings.VsockFd is { } fd ? $"{vsock},vhostfd={fd}" : vsock]);
        }
        else
        {
            a.AddRange(["-device", Dev("virtio-serial", "id=virtio-serial0")]);
            a.AddRange(["-chardev", $"socket,id=charagent0,path={layout.AgentSocket},server=on,wait=off"]);
            a.AddRange(["-device", "virtserialport,id=virtio-agent0,chardev=charagent0,name=agent.0"]);
        }

        if (spec.SharedDirectory is not null)
        {
            a.AddRange(["-chardev", $"socket,id=virtio-fs0,path={layout.VirtiofsSocket}"]);
            a.AddRange(["-device", Dev("vhost-user-fs", "id=vhost-user-fs0", "chardev=virtio-fs0", "tag=kuasar")]);
        }

        foreach (var port in HotplugSlots(spec, settings, microvm ? 0 : slot))
        {
            a.AddRange(["-device", $"pcie-root-port,id={port.Bus},bus=pcie.0,chassis={port.Bus![5..]},port={MachineKind.Hex(port.PciSlot)},addr={MachineKind.Hex(port.PciSlot)}"]);
        }

        return a;
    }

    /// <summary>The root ports declared for hot-plug, on the pcie.0 slots after the cold-plugged PCI devices.</summary>
    public static IReadOnlyList<HotplugSlot> HotplugSlots(VmLaunchSpec spec, VmSettings settings, int? lastColdSlot = null)
    {
        var microvm = MachineKind.IsMicrovm(spec.MachineType);
        var cold = lastColdSlot ?? (microvm ? 0 : 2 + (spec.Image is not null ? 1 : 0) + (spec.SharedDirectory is not null ? 1 : 0));
        return [.. Enumerable.Range(0, settings.HotplugSlots).Select(k => new HotplugSlot($"pcie.{k + 1}", $"pcie.{k + 1}", "0x0", cold + 1 + k))];
    }
}
