using Isola.Hosting.Tests.Doubles;

namespace Isola.Hosting.Tests.Containers;

/// <summary>An exec whose caller stops waiting is killed and deleted, not left running with its record dropped.</summary>
public sealed class ExecCancellationTests : IDisposable
{
    private readonly TestRoot _t = new();
    private readonly string _rootfs = Path.Combine(Path.GetTempPath(), "isola-rootfs-" + Guid.NewGuid().ToString("N"));

    public ExecCancellationTests() => _t.Controller.TaskExists = id => _t.Tasks.Processes.ContainsKey(id);

    public void Dispose() => _t.Dispose();

    [Fact]
    public async Task Cancelling_an_exec_kills_then_deletes_its_process()
    {
        await using var host = await _t.StartAsync();
        var sandbox = await host.Sandboxes.RunAsync(new SandboxSpec { Id = "sb1" });
        var container = await sandbox.Containers.RunAsync(new ContainerSpec { Id = "c1", Rootfs = _rootfs, Args = ["sleep", "inf"] });
        using var cancel = new CancellationTokenSource();
        var run = container.ExecAsync(new ExecSpec { ExecId = "e1", Args = ["sleep", "inf"] }, cancel.Token);
        using (var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(20)))
        {
            while (!_t.Tasks.Log.Contains("Wait c1/e1"))
            {
                await Task.Delay(10, deadline.Token);
            }
        }

        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
        var log = _t.Tasks.Log.ToList();
        var kill = log.IndexOf("Kill9 c1/e1");
        Assert.True(kill >= 0, "the exec was not killed: " + string.Join(", ", log));
        Assert.True(log.LastIndexOf("Delete c1/e1") > kill, "the exec was not deleted after the kill: " + string.Join(", ", log));
        Assert.False(_t.Tasks.Processes.ContainsKey("c1/e1"), "the exec process is still known to the task service");
        Assert.Equal(ContainerState.Running, (await container.InspectAsync()).State);
    }
}
