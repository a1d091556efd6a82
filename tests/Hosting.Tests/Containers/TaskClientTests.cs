using Isola.Hosting.Tests.Doubles;

namespace Isola.Hosting.Tests.Containers;

/// <summary>Task API connections: one gate per sandbox, and a connect abandoned at its deadline is closed when it
/// completes late.</summary>
public sealed class TaskClientTests : IDisposable
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(20);
    private readonly TestRoot _t = new();
    private readonly string _rootfs = Path.Combine(Path.GetTempPath(), "isola-rootfs-" + Guid.NewGuid().ToString("N"));

    public TaskClientTests() => _t.Controller.TaskExists = id => _t.Tasks.Processes.ContainsKey(id);

    public void Dispose() => _t.Dispose();

    private ContainerSpec Spec(string id) => new() { Id = id, Rootfs = _rootfs, Args = ["true"] };

    private async Task<ISandbox> RunAtAsync(Hosting.IsolaHost host, string id, string address)
    {
        _t.Controller.TaskAddress = address;
        return await host.Sandboxes.RunAsync(new SandboxSpec { Id = id });
    }

    [Fact]
    public async Task A_slow_connect_to_one_sandbox_does_not_stall_another()
    {
        await using var host = await _t.StartAsync(("Isola:Timeouts:Task", "00:00:30"));
        var slow = await RunAtAsync(host, "slow", "fake:///slow");
        var fast = await RunAtAsync(host, "fast", "fake:///fast");
        var held = new TaskCompletionSource();
        _t.Tasks.HeldConnects["fake:///slow"] = held;

        var stuck = slow.Containers.RunAsync(Spec("c-slow"));
        Assert.True(await _t.Tasks.ConnectStarted.WaitAsync(Generous));
        var other = await fast.Containers.RunAsync(Spec("c-fast")).WaitAsync(Generous);
        Assert.Equal(ContainerState.Running, other.Info.State);
        Assert.False(stuck.IsCompleted, "the slow sandbox's connect was released before the fast sandbox's call finished");

        held.SetResult();
        await stuck.WaitAsync(Generous);
    }

    [Fact]
    public async Task A_connect_that_completes_after_its_deadline_is_closed()
    {
        await using var host = await _t.StartAsync(("Isola:Timeouts:Task", "00:00:01"));
        var sandbox = await RunAtAsync(host, "sb1", "fake:///late");
        var held = new TaskCompletionSource();
        _t.Tasks.HeldConnects["fake:///late"] = held;

        var e = await Assert.ThrowsAsync<IsolaException>(() => sandbox.Containers.RunAsync(Spec("c1")));
        Assert.Equal(IsolaErrorCode.DeadlineExceeded, e.Code);
        while (_t.Tasks.ClientDisposed.CurrentCount > 0)
        {
            await _t.Tasks.ClientDisposed.WaitAsync();
        }

        held.SetResult(); // the abandoned connect now succeeds: its client must not leak
        Assert.True(await _t.Tasks.ClientDisposed.WaitAsync(Generous), "the late client was never disposed");
    }

    [Fact]
    public async Task Gates_are_dropped_when_no_connect_is_in_progress()
    {
        await using var host = await _t.StartAsync();
        for (var i = 0; i < 5; i++)
        {
            var sandbox = await RunAtAsync(host, $"sb{i}", $"fake:///sb{i}");
            await sandbox.Containers.RunAsync(Spec($"c{i}"));
            await sandbox.RemoveAsync();
        }

        Assert.Equal(0, ((Hosting.IsolaHost)host).Services.Tasks.GateCount);
    }
}
