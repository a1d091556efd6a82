namespace Isola.Integration.Tests.Faults;

/// <summary>
/// The fault-injection suite on the shim runtime (containerd-shim-runc-v2 + runc, real pause pods): every named crash
/// point of the host on the way of <c>sandbox run</c>, <c>container run -d</c>, <c>sandbox stop</c> and
/// <c>sandbox rm</c>, and crashes inside recovery itself. For each: the command dies there (SIGKILL), a fresh
/// <c>isola sandbox ls</c> recovers and prints only what is true, <c>sandbox rm</c> succeeds, and nothing is left:
/// no process, runc state, cgroup, mount, netns, socket, bundle or state directory.
/// </summary>
[Collection(FaultCollection.Name)]
public sealed class ShimCrashPointPerPodShimTests() : ShimCrashPointTests("Pod");

/// <summary>The same suite with the pod in a shared shim (ShimGrouping Runtime): the shared shim must end with the pod.</summary>
[Collection(FaultCollection.Name)]
public sealed class ShimCrashPointSharedShimTests() : ShimCrashPointTests("Runtime");

public abstract class ShimCrashPointTests(string grouping) : IDisposable
{
    private readonly FaultWorld _world = FaultWorld.ForShim("shim", grouping);

    public void Dispose()
    {
        _world.Dispose();
        GC.SuppressFinalize(this);
    }

    public static TheoryData<string> RunPoints =>
    [
        "record-temp:Creating", "record:Creating", "controller:Create:before", "controller:Create:after", "record:Starting",
        "controller:Start:before", "record:checkpoint", "controller:Start:after", "record-temp:Ready", "record:Ready",
    ];

    public static TheoryData<string> ContainerRunPoints =>
    [
        "container:Unknown", "controller:Prepare:before", "controller:Prepare:after", "container:prepared", "task:Create:before",
        "task:Create:after", "task:Start:before", "task:Start:after", "container:Running",
    ];

    public static TheoryData<string> RemovePoints =>
    [
        "task:State:before", "task:Kill:before", "task:Delete:before", "task:Delete:after", "controller:Purge:after",
        "record:Stopping", "controller:Stop:before", "controller:Stop:after", "record:Removing", "controller:Shutdown:before",
        "controller:Shutdown:after",
    ];

    public static TheoryData<string> StopPoints => ["record:Stopping", "controller:Stop:before", "controller:Stop:after", "record:Stopped"];

    [Theory]
    [MemberData(nameof(RunPoints))]
    public async Task A_sandbox_run_killed_at_each_point_is_recovered_and_removed_without_a_trace(string point)
    {
        var id = NewId();
        var crashed = await _world.IsolaAsync(point, "sandbox", "run", "--id", id);
        await FinishAsync(id, crashed.Pid);
    }

    [Theory]
    [MemberData(nameof(ContainerRunPoints))]
    public async Task A_container_run_killed_at_each_point_is_recovered_and_removed_without_a_trace(string point)
    {
        var id = NewId();
        await _world.MustAsync("sandbox", "run", "--id", id);
        var crashed = await _world.IsolaAsync(point, "container", "run", id, "--rootfs", _world.Rootfs, "--id", id + "-c", "-d", "--", "sleep", "1000");
        await FinishAsync(id, crashed.Pid);
    }

    [Theory]
    [MemberData(nameof(RemovePoints))]
    public async Task A_sandbox_rm_killed_at_each_point_is_finished_by_the_next_command(string point)
    {
        var id = NewId();
        await _world.MustAsync("sandbox", "run", "--id", id);
        await _world.MustAsync("container", "run", id, "--rootfs", _world.Rootfs, "--id", id + "-c", "-d", "--", "sleep", "1000");
        var sockets = _world.SocketsOf(id);
        var crashed = await _world.IsolaAsync(point, "sandbox", "rm", id);
        await FinishAsync(id, crashed.Pid, sockets);
    }

    [Theory]
    [MemberData(nameof(StopPoints))]
    public async Task A_sandbox_stop_killed_at_each_point_is_finished_by_the_next_command(string point)
    {
        var id = NewId();
        await _world.MustAsync("sandbox", "run", "--id", id);
        await _world.MustAsync("container", "run", id, "--rootfs", _world.Rootfs, "--id", id + "-c", "-d", "--", "sleep", "1000");
        var crashed = await _world.IsolaAsync(point, "sandbox", "stop", id);
        var listing = await _world.ListAsync();
        FaultWorld.AssertTruthful(listing, id);
        Assert.Equal("Stopped", listing.Single(s => s.GetProperty("id").GetString() == id).GetProperty("state").GetString());
        await FinishAsync(id, crashed.Pid);
    }

    [Theory]
    [InlineData("controller:Start:after", "recovery:Starting")]
    [InlineData("controller:Start:after", "controller:Shutdown:before")]
    [InlineData("record:Stopping", "controller:Stop:after")]
    [InlineData("record:Removing", "controller:Shutdown:after")]
    public async Task A_recovery_killed_in_its_turn_is_finished_by_the_next_one(string first, string inRecovery)
    {
        var id = NewId();
        int pid;
        if (first == "controller:Start:after")
        {
            pid = (await _world.IsolaAsync(first, "sandbox", "run", "--id", id)).Pid;
        }
        else
        {
            await _world.MustAsync("sandbox", "run", "--id", id);
            pid = (await _world.IsolaAsync(first, "sandbox", "rm", id)).Pid;
        }

        var sockets = _world.SocketsOf(id);
        var recovering = await _world.IsolaAsync(inRecovery, "sandbox", "ls");
        await FinishAsync(id, pid, sockets.Concat(FaultWorld.EventsSocketsOf(recovering.Pid)));
    }

    /// <summary>A fresh command recovers and lists the truth; rm succeeds (or the sandbox is already gone); nothing
    /// of it is left.</summary>
    private async Task FinishAsync(string id, int crashedPid, IEnumerable<string>? knownSockets = null)
    {
        var sockets = (knownSockets ?? []).Concat(_world.SocketsOf(id)).Concat(FaultWorld.EventsSocketsOf(crashedPid)).ToList();
        var listing = await _world.ListAsync();
        FaultWorld.AssertTruthful(listing, id);
        if (listing.Any(s => s.GetProperty("id").GetString() == id))
        {
            sockets.AddRange(_world.SocketsOf(id));
            await _world.MustAsync("sandbox", "rm", id);
        }

        Assert.Empty(await _world.ListAsync());
        var left = _world.Leftovers(id, sockets);
        Assert.True(left.Count == 0, $"left behind by sandbox {id}:\n{string.Join('\n', left)}");
    }

    private static string NewId() => "ft" + Guid.NewGuid().ToString("N")[..14];
}
