using Isola.Plugins.StratoVirt.Vmm.Hotplug;
using Isola.Vmm;

namespace Isola.Plugins.StratoVirt.Tests.Vmm;

/// <summary>Where the guest finds a hot-plugged device is part of the VMM contract (PluggedDevice.GuestAddress, as
/// Kuasar's hot_attach returns it), so the vm controller needs no downcast to the QMP types to mount it.</summary>
public sealed class GuestAddressTests
{
    private static readonly HotplugSlot[] Slots = [new("pcie.1", "pcie.1", "0x0", 5), new("virtio-mmio.0", null, "0x0", -1)];

    [Fact]
    public void A_device_on_a_PCIe_root_port_carries_its_guest_PCI_address_and_one_on_mmio_carries_none()
    {
        var slots = new SlotAllocator(Slots, []);
        slots.Reserve("vm1", "blk0", "block", "/img0");
        slots.Reserve("vm1", "blk1", "block", "/img1");

        Assert.Equal("0000:00:05.0", slots.Find("blk0")!.GuestAddress);
        Assert.Null(slots.Find("blk1")!.GuestAddress);
    }

    [Fact]
    public void A_device_recovered_from_data_written_before_guest_addresses_gets_one_from_its_slot()
    {
        var slots = new SlotAllocator(Slots, [new PluggedDevice("blk0", "block", "pcie.1", "/img0")]);
        Assert.Equal("0000:00:05.0", slots.Find("blk0")!.GuestAddress);
    }
}
