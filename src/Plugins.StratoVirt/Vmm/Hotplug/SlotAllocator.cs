using Isola.Vmm;

namespace Isola.Plugins.StratoVirt.Vmm.Hotplug;

/// <summary>
/// Which hot-plug slots are taken and by what. Rebuilt from the plugged-device list saved in the sandbox record, so a
/// new host process can keep plugging and unplugging (Kuasar keeps this only in memory and loses it on restart), and
/// a slot is freed on unplug (Kuasar never frees its root ports).
/// </summary>
internal sealed class SlotAllocator
{
    private readonly IReadOnlyList<HotplugSlot> _slots;
    private readonly Dictionary<string, PluggedDevice> _used = new(StringComparer.Ordinal);
    private readonly object _gate = new();

    public SlotAllocator(IReadOnlyList<HotplugSlot> slots, IEnumerable<PluggedDevice> plugged)
    {
        _slots = slots;
        foreach (var d in plugged)
        {
            // Recovery data written before devices carried their guest address: derive it from the slot.
            _used[d.Slot] = d.GuestAddress is null && slots.FirstOrDefault(s => s.Name == d.Slot) is { } slot
                ? d with { GuestAddress = GuestAddressOf(slot) }
                : d;
        }
    }

    /// <summary>The devices plugged now, in slot order.</summary>
    public IReadOnlyList<PluggedDevice> Devices
    {
        get
        {
            lock (_gate)
            {
                return [.. _slots.Where(s => _used.ContainsKey(s.Name)).Select(s => _used[s.Name])];
            }
        }
    }

    /// <summary>The device with that id, or null.</summary>
    public PluggedDevice? Find(string deviceId)
    {
        lock (_gate)
        {
            return _used.Values.FirstOrDefault(d => d.Id == deviceId);
        }
    }

    /// <summary>The slot a plugged device sits in.</summary>
    public HotplugSlot SlotOf(PluggedDevice device) => _slots.First(s => s.Name == device.Slot);

    /// <summary>Reserves the first free slot for <paramref name="deviceId"/>; throws ResourceExhausted when none is free
    /// and AlreadyExists when the id is plugged already.</summary>
    public HotplugSlot Reserve(string vmId, string deviceId, string kind, string source)
    {
        lock (_gate)
        {
            if (_used.Values.Any(d => d.Id == deviceId))
            {
                throw IsolaException.AlreadyExists($"VM {vmId}: a device with id '{deviceId}' is already plugged");
            }

            var slot = _slots.FirstOrDefault(s => !_used.ContainsKey(s.Name)) ?? throw new IsolaException(
                IsolaErrorCode.ResourceExhausted,
                $"VM {vmId}: no free hot-plug slot for '{deviceId}' (all {_slots.Count} in use; raise HotplugSlots)");
            _used[slot.Name] = new PluggedDevice(deviceId, kind, slot.Name, source) { GuestAddress = GuestAddressOf(slot) };
            return slot;
        }
    }

    /// <summary>A device on a PCIe root port appears in the guest at that port's slot on bus 0.</summary>
    internal static string? GuestAddressOf(HotplugSlot slot) => slot.IsPci ? $"0000:00:{slot.PciSlot:x2}.0" : null;

    /// <summary>Frees the slot held by <paramref name="deviceId"/>.</summary>
    public void Release(string deviceId)
    {
        lock (_gate)
        {
            foreach (var (slot, d) in _used)
            {
                if (d.Id == deviceId)
                {
                    _used.Remove(slot);
                    return;
                }
            }
        }
    }
}
