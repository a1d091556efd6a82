using System.Text.Json.Nodes;
using Isola.Plugins.StratoVirt.Vmm.Hotplug;
using Isola.Vmm;
using Microsoft.Extensions.Logging;

namespace Isola.Plugins.StratoVirt.Vmm;

/// <summary>Hot-plug: a slot is reserved before the VMM is asked and released if it refuses; unplug waits for the
/// guest's DEVICE_DELETED under a deadline before the backend is deleted and the slot freed.</summary>
internal sealed partial class QmpVmInstance
{
    public async Task<PluggedDevice> HotplugBlockAsync(BlockDeviceSpec device, CancellationToken cancellationToken)
    {
        QmpIds.Validate(_id, device.Id);
        if (!File.Exists(device.Path))
        {
            throw IsolaException.NotFound($"VM {_id}: block device source '{device.Path}' does not exist");
        }

        var slot = _slots.Reserve(_id, device.Id, "block", device.Path);
        try
        {
            await ExecuteAsync("blockdev-add", HotplugCommands.BlockdevAdd(device), cancellationToken).ConfigureAwait(false);
            try
            {
                await ExecuteAsync("device_add", HotplugCommands.BlockDeviceAdd(device.Id, slot), cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                if (slot.IsPci)
                {
                    await TryAsync("blockdev-del", new JsonObject { ["node-name"] = device.Id }).ConfigureAwait(false);
                }

                throw;
            }
        }
        catch
        {
            _slots.Release(device.Id);
            throw;
        }

        _logger.LogInformation("VM {Id}: block device {Device} ({Path}) plugged into {Slot}", _id, device.Id, device.Path, slot.Name);
        return _slots.Find(device.Id)!;
    }

    public async Task<PluggedDevice> HotplugNetAsync(NetDeviceSpec device, CancellationToken cancellationToken)
    {
        QmpIds.Validate(_id, device.Id);
        var slot = _slots.Reserve(_id, device.Id, "net", device.TapName);
        try
        {
            if (!slot.IsPci)
            {
                throw new IsolaException(IsolaErrorCode.Unimplemented, $"VM {_id}: NIC hot-plug needs the standard machine (PCIe root ports); this VM is a microvm");
            }

            await ExecuteAsync("netdev_add", HotplugCommands.NetdevAdd(device), cancellationToken).ConfigureAwait(false);
            try
            {
                await ExecuteAsync("device_add", HotplugCommands.NetDeviceAdd(device, slot), cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                await TryAsync("netdev_del", new JsonObject { ["id"] = HotplugCommands.NetdevId(device.Id) }).ConfigureAwait(false);
                throw;
            }
        }
        catch
        {
            _slots.Release(device.Id);
            throw;
        }

        _logger.LogInformation("VM {Id}: NIC {Device} (tap {Tap}) plugged into {Slot}", _id, device.Id, device.TapName, slot.Name);
        return _slots.Find(device.Id)!;
    }

    public async Task UnplugAsync(string deviceId, CancellationToken cancellationToken)
    {
        var device = _slots.Find(deviceId) ?? throw IsolaException.NotFound($"VM {_id}: no plugged device '{deviceId}'");
        var slot = _slots.SlotOf(device);
        try
        {
            // QEMU first reports the virtio backend (DEVICE_DELETED without "device"), then the device itself: wait for
            // the one that names ours. A PCIe guest acks only after pciehp's 5 s attention delay.
            await (await QmpAsync(cancellationToken).ConfigureAwait(false)).ExecuteAndWaitEventAsync("device_del", new JsonObject { ["id"] = deviceId },
                e => e.Name == "DEVICE_DELETED" && e.DataString("device") == deviceId, _unplugTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (IsolaException e) when (e.Code == IsolaErrorCode.NotFound)
        {
            // Already gone from the VMM (for example removed before a host restart finished its bookkeeping).
        }

        if (device.Kind == "block" && slot.IsPci)
        {
            await TryAsync("blockdev-del", new JsonObject { ["node-name"] = deviceId }).ConfigureAwait(false);
        }
        else if (device.Kind == "net")
        {
            await TryAsync("netdev_del", new JsonObject { ["id"] = HotplugCommands.NetdevId(deviceId) }).ConfigureAwait(false);
        }

        _slots.Release(deviceId);
        _logger.LogInformation("VM {Id}: device {Device} unplugged from {Slot}", _id, deviceId, slot.Name);
    }

    private async Task TryAsync(string command, JsonObject args)
    {
        try
        {
            await ExecuteAsync(command, args, CancellationToken.None).ConfigureAwait(false);
        }
        catch (IsolaException e)
        {
            _logger.LogWarning("VM {Id}: {Command} failed during cleanup: {Error}", _id, command, e.Message);
        }
    }
}
