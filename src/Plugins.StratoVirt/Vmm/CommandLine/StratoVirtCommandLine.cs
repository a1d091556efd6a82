using Isola.Plugins.StratoVirt.Vmm.Hotplug;
using Isola.Vmm;

namespace Isola.Plugins.StratoVirt.Vmm.CommandLine;

/// <summary>
/// StratoVirt's command line, in the shape Kuasar's vmm-sandboxer emits (reference/stratovirt.md §1): a standard
/// machine gets PCI devices at fixed slots on pcie.0 and a pool of empty pcie-root-ports for hot-plug; microvm gets
/// virtio-mmio "-device" drivers and uses StratoVirt's four replaceable block slots instead of root ports.
/// </summary>
internal static class StratoVirtCommandLine
{
    /// <summary>Kernel parameters Kuasar always sets; the user's come after them.</summary>
    public const string BaseKernelParams = "console=hvc0 iommu=off panic=1 pcie_ports=native";

    /// <summary>StratoVirt microvm reserves four replaceable virtio-blk slots (MMIO_REPLACEABLE_BLK_NR).</summary>
    public const int MicrovmReplaceableBlockSlots = 4;

    public static IReadOnlyList<string> Build(VmLaunchSpec spec, VmSettings settings, VmLayout layout)
    {
        var microvm = MachineKind.IsMicrovm(spec.MachineType);
        string Driver(string name) => microvm ? name + "-device" : name + "-pci";
        var slot = 0;
        string[] Bus() => microvm ? [] : ["bus=pcie.0", "addr=" + MachineKind.Hex(++slot)];
        string Dev(params string[] parts) => string.Join(',', parts.Concat(Bus()));

        var machine = spec.MachineType;
        if (!microvm && spec.SharedDirectory is not null && !machine.Contains("mem-share", StringComparison.Ordinal))
        {
            // vhost-user-fs needs guest RAM the daemon can map.
            machine += ",mem-share=on";
        }

        var a = new List<string> { spec.Binary, "-name", "sandbox-" + spec.Id, "-machine", machine };
        a.AddRange(["-qmp", $"unix:{layout.QmpSocket},server,nowait"]);
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

        append = (append + " " + spec.KernelParams).Trim();
        a.AddRange(["-append", append]);
        a.AddRange(["-smp", $"cpus={spec.Vcpus}", "-m", $"{spec.MemoryMiB}M"]);
        a.AddRange(["-pidfile", layout.PidFile]);
        if (settings.Debug)
        {
            a.AddRange(["-D", layout.DebugLog]);
        }

        if (!microvm)
        {
            a.AddRange(["-global", "pcie-root-port.fast-unplug=1"]);
        }

        a.Add("-daemonize");
        if (settings.DisableSeccomp)
        {
            a.Add("-disable-seccomp");
        }

        if (settings.Firmware is not null)
        {
            a.AddRange(["-drive", $"file={settings.Firmware},if=pflash,format=raw,unit=0,readonly=on"]);
        }

        a.AddRange(["-object", "rng-random,id=rng0,filename=/dev/urandom", "-device", Dev(Driver("virtio-rng"), "rng=rng0", "id=virtio-rng0")]);
        a.AddRange(["-device", Dev(Driver("virtio-serial"), "id=virtio-serial0")]);
        a.AddRange(["-chardev", $"file,id=charconsole0,path={spec.ConsoleLog ?? layout.DefaultConsoleLog}"]);
        a.AddRange(["-device", "virtconsole,id=virtio-console0,chardev=charconsole0,nr=0"]);
        if (spec.Image is not null)
        {
            a.AddRange(["-drive", $"id=rootfs,file={spec.Image},readonly=on", "-device", Dev(Driver("virtio-blk"), "drive=rootfs", "id=blk-0")]);
        }

        if (settings.AgentChannel == AgentChannel.Vsock)
        {
            var cid = spec.VsockCid ?? throw IsolaException.InvalidArgument($"VM {spec.Id}: the vsock agent channel needs a guest CID");
            // Kuasar's order: the pre-bound descriptor comes last.
            var vsock = Dev(Driver("vhost-vsock"), $"id=vsock-{cid}", $"guest-cid={cid}");
            a.AddRange(["-device", settings.VsockFd is { } fd ? $"{vsock},vhostfd={fd}" : vsock]);
        }
        else
        {
            a.AddRange(["-chardev", $"socket,id=charagent0,path={layout.AgentSocket},server,nowait"]);
            a.AddRange(["-device", "virtserialport,id=virtio-agent0,chardev=charagent0,nr=1,name=agent.0"]);
        }

        if (spec.SharedDirectory is not null)
        {
            a.AddRange(["-chardev", $"socket,id=virtio-fs-{spec.Id},path={layout.VirtiofsSocket},server,nowait"]);
            a.AddRange(["-device", Dev(Driver("vhost-user-fs"), $"id=vhost-user-fs-{spec.Id}", $"chardev=virtio-fs-{spec.Id}", "tag=kuasar")]);
        }

        foreach (var port in HotplugSlots(spec, settings, slot).Where(p => p.IsPci))
        {
            a.AddRange(["-device", $"pcie-root-port,id={port.Bus},port={MachineKind.Hex(port.PciSlot)},bus=pcie.0,addr={MachineKind.Hex(port.PciSlot)}"]);
        }

        return a;
    }

    /// <summary>The hot-plug slots the command line declares (root ports on a standard machine) or StratoVirt reserves
    /// (microvm). Root ports take the pcie.0 slots after the cold-plugged devices.</summary>
    public static IReadOnlyList<HotplugSlot> HotplugSlots(VmLaunchSpec spec, VmSettings settings, int? lastColdSlot = null)
    {
        if (MachineKind.IsMicrovm(spec.MachineType))
        {
            return [.. Enumerable.Range(0, MicrovmReplaceableBlockSlots).Select(i => new HotplugSlot("mmio." + MachineKind.Hex(i), null, MachineKind.Hex(i), -1))];
        }

        var first = (lastColdSlot ?? ColdPciSlots(spec, settings)) + 1;
        return [.. Enumerable.Range(0, settings.HotplugSlots).Select(k => new HotplugSlot($"pcie.{k + 1}", $"pcie.{k + 1}", "0x0", first + k))];
    }

    private static int ColdPciSlots(VmLaunchSpec spec, VmSettings settings) =>
        2 + (spec.Image is not null ? 1 : 0) + (settings.AgentChannel == AgentChannel.Vsock ? 1 : 0) + (spec.SharedDirectory is not null ? 1 : 0);
}
