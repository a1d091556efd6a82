namespace Isola.Agent.Tasks;

/// <summary>
/// Turns a guest device address from a rootfs mount's source into a block device: a PCI address such as
/// `0000:00:05.0` names a virtio-blk device the host hot-plugged, which appears (after the kernel probes it) as
/// /sys/bus/pci/devices/ADDR/virtioN/block/NAME. The address may also be the PCIe root port the device was plugged
/// into (what QEMU's and StratoVirt's hot-plug report): the device is then the function behind it,
/// ADDR/BB:DD.F/virtioN/block/NAME. Waits for it a few seconds: the hot-plug and the Create request race.
/// </summary>
internal sealed class BlockDeviceResolver
{
    private readonly string _sysRoot;
    private readonly TimeSpan _timeout;

    public BlockDeviceResolver(string sysRoot = "/sys", TimeSpan? timeout = null)
    {
        _sysRoot = sysRoot;
        _timeout = timeout ?? TimeSpan.FromSeconds(5);
    }

    /// <summary>True when <paramref name="source"/> looks like a PCI address (domain:bus:slot.function).</summary>
    public static bool IsPciAddress(string source) =>
        source.Length == 12 && source[4] == ':' && source[7] == ':' && source[10] == '.'
        && source.Where((c, i) => i is not (4 or 7 or 10)).All(char.IsAsciiHexDigit);

    /// <summary>/dev/NAME of the block device at PCI address <paramref name="address"/>.</summary>
    /// <exception cref="IsolaException">NotFound when it does not appear in time.</exception>
    public async Task<string> ResolveAsync(string address, string owner, CancellationToken cancellationToken)
    {
        var device = Path.Combine(_sysRoot, "bus", "pci", "devices", address);
        var deadline = DateTimeOffset.UtcNow + _timeout;
        while (true)
        {
            if (Find(device) is { } name)
            {
                return "/dev/" + name;
            }

            if (DateTimeOffset.UtcNow >= deadline)
            {
                throw IsolaException.NotFound($"{owner}: no block device at PCI address {address} after {_timeout.TotalSeconds:0} s ({device}/virtio*/block is empty)");
            }

            await Task.Delay(50, cancellationToken).ConfigureAwait(false);
        }
    }

    private static string? Find(string device)
    {
        if (!Directory.Exists(device))
        {
            return null;
        }

        foreach (var virtio in Directory.EnumerateDirectories(device, "virtio*"))
        {
            var block = Path.Combine(virtio, "block");
            if (Directory.Exists(block) && Directory.EnumerateDirectories(block).Select(Path.GetFileName).FirstOrDefault() is { } name)
            {
                return name;
            }
        }

        // A root port: look one level down, at the functions on its secondary bus.
        foreach (var function in Directory.EnumerateDirectories(device, "????:??:??.?"))
        {
            if (Find(function) is { } name)
            {
                return name;
            }
        }

        return null;
    }
}
