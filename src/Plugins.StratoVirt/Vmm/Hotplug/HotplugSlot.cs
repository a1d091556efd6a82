namespace Isola.Plugins.StratoVirt.Vmm.Hotplug;

/// <summary>A place a device can be hot-plugged into: a PCIe root port declared on the command line (bus "pcie.N",
/// function 0x0), or one of StratoVirt microvm's replaceable MMIO slots (no bus, addr 0x0-0x3).</summary>
/// <param name="Name">The slot's name, saved in the sandbox record ("pcie.1", "mmio.0x0").</param>
/// <param name="Bus">The device_add "bus", or null for an MMIO slot.</param>
/// <param name="Addr">The device_add "addr".</param>
/// <param name="PciSlot">The root port's slot on pcie.0 (its guest BDF is 0000:00:&lt;slot&gt;.0), or -1.</param>
internal sealed record HotplugSlot(string Name, string? Bus, string Addr, int PciSlot)
{
    /// <summary>True for a PCIe root port.</summary>
    public bool IsPci => Bus is not null;
}
