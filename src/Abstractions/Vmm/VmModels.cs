namespace Isola.Vmm;

/// <summary>Everything needed to launch one VM.</summary>
public sealed record VmLaunchSpec
{
    /// <summary>The sandbox id the VM belongs to.</summary>
    public required SandboxId Id { get; init; }

    /// <summary>A directory for the VM's sockets, pidfile and logs (0700).</summary>
    public required string StateDirectory { get; init; }

    /// <summary>The VMM binary.</summary>
    public required string Binary { get; init; }

    /// <summary>The guest kernel.</summary>
    public required string Kernel { get; init; }

    /// <summary>The initrd, if any.</summary>
    public string? Initrd { get; init; }

    /// <summary>A root disk image, if any.</summary>
    public string? Image { get; init; }

    /// <summary>Kernel command line parameters.</summary>
    public string KernelParams { get; init; } = "";

    /// <summary>Number of vCPUs.</summary>
    public int Vcpus { get; init; } = 1;

    /// <summary>Guest memory in MiB.</summary>
    public int MemoryMiB { get; init; } = 512;

    /// <summary>Machine type: "microvm" or the standard machine ("q35" for QEMU, "standard_vm" style for StratoVirt).</summary>
    public string MachineType { get; init; } = "microvm";

    /// <summary>A host directory shared with the guest through virtiofs, if any.</summary>
    public string? SharedDirectory { get; init; }

    /// <summary>The virtiofs daemon binary, when <see cref="SharedDirectory"/> is set.</summary>
    public string? VirtiofsDaemon { get; init; }

    /// <summary>File the guest console is written to.</summary>
    public string? ConsoleLog { get; init; }

    /// <summary>Guest vsock CID, when the host has vhost-vsock; null otherwise.</summary>
    public uint? VsockCid { get; init; }

    /// <summary>How long launch may take until the management socket answers.</summary>
    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>VMM-specific settings not covered above (for example "BlockDriver", "Debug", "Accel").</summary>
    public IReadOnlyDictionary<string, string> Extra { get; init; } = new Dictionary<string, string>();
}

/// <summary>A VM's run status.</summary>
/// <param name="Status">The management protocol's status word ("running", "paused", "shutdown", ...).</param>
/// <param name="Running">True when the vCPUs run.</param>
public sealed record VmStatus(string Status, bool Running);

/// <summary>A block device to hot-plug.</summary>
/// <param name="Id">Device id (also the block node name).</param>
/// <param name="Path">Host file or block device.</param>
/// <param name="ReadOnly">Attach read-only.</param>
public sealed record BlockDeviceSpec(string Id, string Path, bool ReadOnly = false);

/// <summary>A network device to hot-plug.</summary>
/// <param name="Id">Device id.</param>
/// <param name="TapName">The host tap interface.</param>
/// <param name="Mac">The guest MAC address.</param>
public sealed record NetDeviceSpec(string Id, string TapName, string Mac);

/// <summary>A device plugged into the VM.</summary>
/// <param name="Id">Device id.</param>
/// <param name="Kind">"block" or "net".</param>
/// <param name="Slot">Where it went (bus/port or slot name), freed on unplug.</param>
/// <param name="Source">The host path or tap.</param>
public sealed record PluggedDevice(string Id, string Kind, string Slot, string Source)
{
    /// <summary>Where the guest finds the device, when the VMM knows (a PCI address such as <c>0000:00:05.0</c>, as
    /// Kuasar's hot_attach returns it); null otherwise, and the guest looks it up by <see cref="Slot"/>.</summary>
    public string? GuestAddress { get; init; }
}
