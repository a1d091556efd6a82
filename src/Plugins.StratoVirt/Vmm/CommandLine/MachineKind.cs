namespace Isola.Plugins.StratoVirt.Vmm.CommandLine;

/// <summary>microvm (virtio-mmio transport) or a standard PCIe machine, from the machine type's first field.</summary>
internal static class MachineKind
{
    /// <summary>True when the machine type's first comma field is "microvm".</summary>
    public static bool IsMicrovm(string machineType) =>
        machineType.Split(',', 2)[0].Equals("microvm", StringComparison.OrdinalIgnoreCase);

    /// <summary>"0x1f"-style hex as both VMMs print PCI slots.</summary>
    public static string Hex(int value) => "0x" + value.ToString("x", System.Globalization.CultureInfo.InvariantCulture);
}
