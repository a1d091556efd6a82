using Isola.Plugins.StratoVirt.Vmm.Vsock;

namespace Isola.Plugins.StratoVirt.Tests.Vsock;

/// <summary>The CID retry policy, driven through its bind function: this host has no /dev/vhost-vsock, so the ioctl
/// itself cannot run here (the missing-device error is covered in VmControllerOptionsTests).</summary>
public sealed class VsockCidAllocatorTests
{
    private const int EAddrInUse = 98;
    private const int EPerm = 1;

    [Fact]
    public void A_preferred_CID_that_is_still_free_is_kept()
    {
        var tried = new List<ulong>();
        var cid = VsockCidAllocator.PickCid("sb", preferred: 42, "/dev/vhost-vsock", c => { tried.Add(c); return 0; });

        Assert.Equal(42u, cid);
        Assert.Equal([42UL], tried);
    }

    [Fact]
    public void CIDs_in_use_are_retried_with_fresh_random_CIDs_never_below_3()
    {
        var tried = new List<ulong>();
        var cid = VsockCidAllocator.PickCid("sb", preferred: 42, "/dev/vhost-vsock",
            c => { tried.Add(c); return tried.Count < 5 ? EAddrInUse : 0; });

        Assert.Equal(5, tried.Count);
        Assert.Equal(42UL, tried[0]);
        Assert.All(tried.Skip(1), c => Assert.InRange(c, 3UL, (ulong)int.MaxValue));
        Assert.Equal((uint)tried[^1], cid);
    }

    [Fact]
    public void Any_other_error_stops_at_once_naming_the_sandbox_and_the_device()
    {
        var attempts = 0;
        var e = Assert.Throws<IsolaException>(() =>
            VsockCidAllocator.PickCid("sb-7", null, "/dev/vhost-vsock", _ => { attempts++; return EPerm; }));

        Assert.Equal(1, attempts);
        Assert.Equal(IsolaErrorCode.Internal, e.Code);
        Assert.Contains("sandbox sb-7", e.Message);
        Assert.Contains("/dev/vhost-vsock", e.Message);
    }

    [Fact]
    public void Running_out_of_attempts_is_resource_exhausted()
    {
        var e = Assert.Throws<IsolaException>(() =>
            VsockCidAllocator.PickCid("sb", null, "/dev/vhost-vsock", _ => EAddrInUse, maxAttempts: 16));

        Assert.Equal(IsolaErrorCode.ResourceExhausted, e.Code);
        Assert.Contains("16 attempts", e.Message);
    }
}
