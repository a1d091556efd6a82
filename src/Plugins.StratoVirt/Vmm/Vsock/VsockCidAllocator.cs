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
    public static unsafe (uint Cid, SafeFileHandle Handle) Allocate(SandboxId sandboxId, uint? preferred = null, string devicePath = DevicePath)
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
        try
        {
            var cid = PickCid(sandboxId, preferred, devicePath, candidate =>
                LibC.Ioctl(fd, VhostVsockSetGuestCid, &candidate) == 0 ? 0 : System.Runtime.InteropServices.Marshal.GetLastPInvokeError());
            return (cid, handle);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>The retry policy, apart from the ioctl so it can be tested on hosts without vhost-vsock:
    /// <paramref name="preferred"/> first (a recovered sandbox keeps its CID while it is free), then random CIDs from 3
    /// (0-2 are reserved), retrying only on EADDRINUSE. <paramref name="tryBind"/> returns 0 or an errno.</summary>
    internal static uint PickCid(SandboxId sandboxId, uint? preferred, string devicePath, Func<ulong, int> tryBind,
        int maxAttempts = MaxAttempts)
    {
        for (var attempt = 0; attempt < maxAttempts; attempt++)
        {
            ulong cid = attempt == 0 && preferred is { } p ? p : (ulong)Random.Shared.NextInt64(3, int.MaxValue);
            var errno = tryBind(cid);
            if (errno == 0)
            {
                return (uint)cid;
            }

            if (errno != LibC.EADDRINUSE)
            {
                throw IsolaException.Internal(
                    $"sandbox {sandboxId}: VHOST_VSOCK_SET_GUEST_CID on {devicePath} failed: {System.Runtime.InteropServices.Marshal.GetPInvokeErrorMessage(errno)}");
            }
        }

        throw new IsolaException(IsolaErrorCode.ResourceExhausted,
            $"sandbox {sandboxId}: no free vsock CID after {maxAttempts} attempts on {devicePath}");
    }
}
