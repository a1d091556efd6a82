using Isola.Integration.Tests.Shim;
using Isola.Integration.Tests.Vm;
using Isola.TestSupport;

namespace Isola.Integration.Tests.Faults;

/// <summary>
/// The fault-injection suite on the vm controller (QEMU microvm under TCG, the test guest): the host SIGKILLed at the
/// crash points of <c>sandbox run</c> (including while the VM boots) and <c>sandbox rm</c>, and the VMM SIGKILLed under
/// a ready sandbox. Each trial ends as the shim trials do: a true listing, a successful rm, no process, socket, mount or
/// state directory left.
/// </summary>
[Collection(FaultCollection.Name)]
public sealed class VmCrashPointTests : IDisposable
{
    private readonly FaultWorld _world = new("vm", root => VmGuest.HostConfiguration(root));

    public void Dispose()
    {
        _world.Dispose();
        var plugins = _world.Root + "-plugins";
        if (Directory.Exists(plugins))
        {
            Directory.Delete(plugins, recursive: true);
        }
    }

    public static TheoryData<string> RunPoints =>
        ["record:Creating", "controller:Create:after", "record:Starting", "record:checkpoint", "controller:Start:after", "record:Ready"];

    public static TheoryData<string> RemovePoints => ["record:Stopping", "controller:Stop:after", "record:Removing", "controller:Shutdown:before"];

    [Theory]
    [MemberData(nameof(RunPoints))]
    public async Task A_vm_sandbox_run_killed_at_each_point_is_recovered_and_removed_without_a_trace(string point)
    {
        var id = NewId();
        await _world.IsolaAsync(point, "sandbox", "run", "--id", id);
        await FinishAsync(id);
    }

    [Theory]
    [MemberData(nameof(RemovePoints))]
    public async Task A_vm_sandbox_rm_killed_at_each_point_is_finished_by_the_next_command(string point)
    {
        var id = NewId();
        await _world.MustAsync("sandbox", "run", "--id", id);
        await _world.IsolaAsync(point, "sandbox", "rm", id);
        await FinishAsync(id);
    }

    [Fact]
    public async Task A_vm_sandbox_whose_VMM_is_killed_is_listed_stopped_and_removed_without_a_trace()
    {
        var id = NewId();
        await _world.MustAsync("sandbox", "run", "--id", id);
        var vmm = (await _world.ListAsync()).Single().GetProperty("pid").GetUInt32();
        Assert.Equal(0, ShimHost.Kill((int)vmm, 9));
        for (var i = 0; i < 300 && Processes.IsRunning(vmm); i++)
        {
            await Task.Delay(10);
        }

        var listing = await _world.ListAsync();
        FaultWorld.AssertTruthful(listing, id);
        Assert.Equal("Stopped", listing.Single().GetProperty("state").GetString());
        await FinishAsync(id);
    }

    private async Task FinishAsync(string id)
    {
        var listing = await _world.ListAsync();
        FaultWorld.AssertTruthful(listing, id);
        if (listing.Any(s => s.GetProperty("id").GetString() == id))
        {
            await _world.MustAsync("sandbox", "rm", id);
        }

        Assert.Empty(await _world.ListAsync());
        var left = _world.Leftovers(id);
        Assert.True(left.Count == 0, $"left behind by VM sandbox {id}:\n{string.Join('\n', left)}");
    }

    private static string NewId() => "fv" + Guid.NewGuid().ToString("N")[..14];
}
