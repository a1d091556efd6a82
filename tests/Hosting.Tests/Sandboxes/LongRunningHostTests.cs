using Isola.Hosting.Tests.Doubles;

namespace Isola.Hosting.Tests.Sandboxes;

/// <summary>A long-running host keeps state only for the sandboxes it is working on: finished background Waits and
/// unused lock gates are let go.</summary>
public sealed class LongRunningHostTests : IDisposable
{
    private readonly TestRoot _t = new();

    public void Dispose() => _t.Dispose();

    private static async Task UntilAsync(Func<bool> condition, string what)
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while (!condition())
        {
            Assert.False(deadline.IsCancellationRequested, what);
            await Task.Delay(10, CancellationToken.None);
        }
    }

    [Fact]
    public async Task A_finished_background_wait_is_forgotten()
    {
        await using var host = await _t.StartAsync();
        var services = ((Hosting.IsolaHost)host).Services;
        var sandbox = await host.Sandboxes.RunAsync(new SandboxSpec { Id = "sb1" });
        Assert.Equal(1, services.Monitor.Count);
        _t.Controller.Exit("sb1", 0);
        await UntilAsync(() => services.Monitor.Count == 0, "the finished Wait loop is still registered");
        Assert.Equal(SandboxState.Stopped, (await sandbox.InspectAsync()).State);
    }

    [Fact]
    public async Task Lock_gates_of_sandboxes_not_in_use_are_dropped()
    {
        await using var host = await _t.StartAsync();
        var services = ((Hosting.IsolaHost)host).Services;
        for (var i = 0; i < 5; i++)
        {
            var sandbox = await host.Sandboxes.RunAsync(new SandboxSpec { Id = $"sb{i}" });
            await sandbox.StopAsync();
            await sandbox.RemoveAsync();
        }

        await UntilAsync(() => services.Monitor.Count == 0, "Wait loops of removed sandboxes are still registered");
        Assert.Equal(0, services.Store.Locks.GateCount);
    }
}
