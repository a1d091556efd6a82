using Isola.Hosting.Tests.Doubles;

namespace Isola.Hosting.Tests.Containers;

/// <summary>One termination path (SIGTERM, grace, SIGKILL, bounded Wait) for container Stop, sandbox Stop and Remove:
/// a task service that never reports the exit holds none of them for the whole task deadline.</summary>
public sealed class TerminationTests : IDisposable
{
    private static readonly TimeSpan WellUnderTheTaskDeadline = TimeSpan.FromSeconds(40);
    private readonly TestRoot _t = new();
    private readonly string _rootfs = Path.Combine(Path.GetTempPath(), "isola-rootfs-" + Guid.NewGuid().ToString("N"));

    public TerminationTests() => _t.Controller.TaskExists = id => _t.Tasks.Processes.ContainsKey(id);

    public void Dispose() => _t.Dispose();

    private async Task<(Hosting.IsolaHost Host, ISandbox Sandbox, IContainer Container)> RunningAsync()
    {
        var host = await _t.StartAsync(("Isola:Timeouts:Task", "00:02:00"));
        var sandbox = await host.Sandboxes.RunAsync(new SandboxSpec { Id = "sb1" });
        var container = await sandbox.Containers.RunAsync(new ContainerSpec { Id = "c1", Rootfs = _rootfs, Args = ["sleep", "inf"] });
        return (host, sandbox, container);
    }

    [Fact]
    public async Task Container_stop_escalates_to_SIGKILL_and_gives_up_at_the_kill_bound()
    {
        var (host, _, container) = await RunningAsync();
        await using var _ = host;
        _t.Tasks.Hangs["Wait"] = true;
        var e = await Assert.ThrowsAsync<IsolaException>(() => container.StopAsync(TimeSpan.FromMilliseconds(100)).WaitAsync(WellUnderTheTaskDeadline));
        Assert.Equal(IsolaErrorCode.DeadlineExceeded, e.Code);
        Assert.Contains("SIGKILL", e.Message);
        Assert.Contains("Kill15 c1", _t.Tasks.Log);
        Assert.Contains("Kill9 c1", _t.Tasks.Log);
    }

    [Fact]
    public async Task Removing_a_sandbox_is_not_held_by_a_wait_that_never_answers()
    {
        var (host, sandbox, _) = await RunningAsync();
        await using var _ = host;
        _t.Tasks.Hangs["Wait"] = true;
        await sandbox.RemoveAsync().WaitAsync(WellUnderTheTaskDeadline);
        Assert.Contains("Kill9 c1", _t.Tasks.Log);
        Assert.Empty(await host.Sandboxes.ListAsync());
    }
}
