using Isola.Plugins.StratoVirt.Native;
using Microsoft.Win32.SafeHandles;

namespace Isola.Plugins.StratoVirt.Vmm.Vsock;

/// <summary>
/// Picks a guest CID the way Kuasar does: open /dev/vhost-vsock and bind a random CID with VHOST_VSOCK_SET_GUEST_CID,
/// retrying on EADDRINUSE. The bound descriptor reserves the CID until the VMM inherits it (vhostfd=), so two
/// sandboxes cannot race for one CID.
/// </summary>
internal static class VsockCidAllocator
{
    public const string DevicePath = "/dev/vhost-vsock";

    /// <summary>_IOW(VHOST_VIRTIO=0xAF, 0x60, __u64).</summary>
    private const ulong VhostVsockSetGuestCid = 0x4008AF60;

    private const int MaxAttempts = 10000;

    /// <summary>True when the host kernel offers vhost-vsock.</summary>
    public static bool IsAvailable(string devicePath = DevicePath) => File.Exists(devicePath);

    /// <summary>Binds a free CID (or <paramref name="preferred"/> when it is still free) and returns it with the
    /// descriptor holding it. Throws FailedPrecondition naming the missing device and the virtio-serial alternative.</summary>
    public static unsafe (uint Cid, SafeFileHandle Handle) Allocate(string sandboxId, uint? preferred = null, string devicePath = DevicePath)
    {
        if (!IsAvailable(devicePath))
        {
            throw IsolaException.FailedPrecondition(
                $"sandbox {sandboxId}: {devicePath} does not exist (the host kernel has no vhost-vsock), so the guest agent " +
                "cannot be reached over vsock; set the runtime's Options:AgentChannel to \"serial\" to use a virtio-serial " +
                "port exposed as a Unix socket (task address ttrpc+unix://<state dir>/agent.sock)");
        }

        var fd = LibC.Open(devicePath, LibC.O_RDWR | LibC.O_CLOEXEC);
        if (fd < 0)
        {
            throw IsolaException.FailedPrecondition($"sandbox {sandboxId}: cannot open {devicePath}: {LibC.LastError()}");
        }

        var handle = new SafeFileHandle(fd, ownsHandle: true);
        for (var attempt = 0; attempt < MaxAttempts; attempt++)
        {
            ulong cid = attempt == 0 && preferred is { } p ? p : (ulong)Random.Shared.NextInt64(3, int.MaxValue);
            if (LibC.Ioctl(fd, VhostVsockSetGuestCid, &cid) == 0)
            {
                return ((uint)cid, handle);
            }

            if (System.Runtime.InteropServices.Marshal.GetLastPInvokeError() != LibC.EADDRINUSE)
            {
                var error = LibC.LastError();
                handle.Dispose();
                throw IsolaException.Internal($"sandbox {sandboxId}: VHOST_VSOCK_SET_GUEST_CID on {devicePath} failed: {error}");
            }
        }

        handle.Dispose();
        throw new IsolaException(IsolaErrorCode.ResourceExhausted, $"sandbox {sandboxId}: no free vsock CID after {MaxAttempts} attempts on {devicePath}");
    }
}
