using System.Text.Json.Nodes;
using Isola.Vmm;

namespace Isola.Plugins.StratoVirt.Vmm.Hotplug;

/// <summary>
/// QMP argument objects for hot-plug. Only keys both StratoVirt (every struct deny_unknown_fields) and QEMU accept are
/// sent (reference/stratovirt.md §6 item 6).
/// </summary>
internal static class HotplugCommands
{
    public static JsonObject BlockdevAdd(BlockDeviceSpec device) => new()
    {
        ["driver"] = "raw",
        ["node-name"] = device.Id,
        ["read-only"] = device.ReadOnly,
        // O_DIRECT for real block devices (Kuasar's choice); a regular file may live on a filesystem without it (tmpfs).
        ["cache"] = new JsonObject { ["direct"] = IsBlockDevice(device.Path) },
        ["file"] = new JsonObject { ["driver"] = "file", ["filename"] = device.Path },
    };

    /// <summary>virtio-blk-pci into a root port (function 0x0), or StratoVirt microvm's virtio-blk-mmio replaceable
    /// slot, whose device id must equal the node name.</summary>
    public static JsonObject BlockDeviceAdd(string id, HotplugSlot slot)
    {
        if (!slot.IsPci)
        {
            return new JsonObject { ["id"] = id, ["driver"] = "virtio-blk-mmio", ["addr"] = slot.Addr, ["drive"] = id };
        }

        return new JsonObject { ["driver"] = "virtio-blk-pci", ["id"] = id, ["bus"] = slot.Bus, ["addr"] = slot.Addr, ["drive"] = id };
    }

    /// <summary>The netdev id that backs NIC <paramref name="deviceId"/>.</summary>
    public static string NetdevId(string deviceId) => "netdev-" + deviceId;

    public static JsonObject NetdevAdd(NetDeviceSpec device) => new()
    {
        ["type"] = "tap",
        ["id"] = NetdevId(device.Id),
        ["ifname"] = device.TapName,
    };

    public static JsonObject NetDeviceAdd(NetDeviceSpec device, HotplugSlot slot) => new()
    {
        ["driver"] = "virtio-net-pci",
        ["id"] = device.Id,
        ["netdev"] = NetdevId(device.Id),
        ["mac"] = device.Mac,
        ["bus"] = slot.Bus,
        ["addr"] = slot.Addr,
    };

    private static bool IsBlockDevice(string path) => Native.LibC.IsBlockDevice(path);
}
