using Isola.Hosting.Tests.Doubles;

namespace Isola.Hosting.Tests.Sandboxes;

/// <summary>Per-sandbox serialisation: in one host, and across hosts that share a state root (two processes).</summary>
public sealed class ConcurrencyTests : IDisposable
{
    private readonly TestRoot _t = new();

    public void Dispose() => _t.Dispose();

    [Fact]
    public async Task Fifty_concurrent_Stop_and_Remove_run_Stop_and_Shutdown_once()
    {
        await using var host = await _t.StartAsync();
        var sandbox = await host.Sandboxes.RunAsync(new SandboxSpec { Id = "sb1" });
        _t.Controller.SlowDown = TimeSpan.FromMilliseconds(20);
        using var go = new ManualResetEventSlim();
        var tasks = Enumerable.Range(0, 50).Select(i => Task.Run(async () =>
        {
            go.Wait();
            if (i % 2 == 0)
            {
                await sandbox.StopAsync();
            }
            else
            {
                await sandbox.RemoveAsync();
            }
        })).ToList();
        go.Set();
        var results = await Task.WhenAll(tasks.Select(async t =>
        {
            try
            {
                await t;
                return null;
            }
            catch (IsolaException e)
            {
                return e;
            }
        }));

        // A Stop that comes after the Remove finds the sandbox gone: NotFound naming it. Nothing else may fail.
        Assert.All(results.OfType<IsolaException>(), e =>
        {
            Assert.Equal(IsolaErrorCode.NotFound, e.Code);
            Assert.Contains("'sb1'", e.Message);
        });
        Assert.Equal(1, _t.Controller.Calls("Stop"));
        Assert.Equal(1, _t.Controller.Calls("Shutdown"));
        Assert.Empty(_t.Controller.Live);
        Assert.Empty(await host.Sandboxes.ListAsync());
    }

    [Fact]
    public async Task Two_hosts_on_one_root_racing_Remove_run_Shutdown_once()
    {
        // Two hosts have separate in-process gates, so only the lock file serialises them, as for two processes.
        await using var first = await _t.StartAsync();
        await using var second = await _t.StartAsync();
        await first.Sandboxes.RunAsync(new SandboxSpec { Id = "sb1" });
        _t.Controller.SlowDown = TimeSpan.FromMilliseconds(100);
        var a = await first.Sandboxes.GetAsync("sb1");
        var b = await second.Sandboxes.GetAsync("sb1");
        await Task.WhenAll(Task.Run(() => a.RemoveAsync()), Task.Run(() => b.RemoveAsync()));
        Assert.Equal(1, _t.Controller.Calls("Shutdown"));
        Assert.Empty(_t.Controller.Live);
    }

    [Fact]
    public async Task Concurrent_runs_with_one_name_create_one_sandbox()
    {
        await using var first = await _t.StartAsync();
        await using var second = await _t.StartAsync();
        var results = await Task.WhenAll(Enumerable.Range(0, 10).Select(i => Task.Run(async () =>
        {
            try
            {
                await (i % 2 == 0 ? first : second).Sandboxes.RunAsync(new SandboxSpec { Id = $"sb{i}", Name = "same" });
                return true;
            }
            catch (IsolaException e) when (e.Code == IsolaErrorCode.AlreadyExists)
            {
                return false;
            }
        })));
        Assert.Single(results, r => r);
        Assert.Single(await first.Sandboxes.ListAsync());
    }

    [Fact]
    public async Task A_handle_does_not_act_on_a_sandbox_recreated_under_the_same_id()
    {
        await using var host = await _t.StartAsync();
        var old = await host.Sandboxes.RunAsync(new SandboxSpec { Id = "sb1" });
        await old.RemoveAsync();
        await host.Sandboxes.RunAsync(new SandboxSpec { Id = "sb1" });
        var e = await Assert.ThrowsAsync<IsolaException>(() => old.StopAsync());
        Assert.Equal(IsolaErrorCode.NotFound, e.Code);
        await old.RemoveAsync(); // idempotent on the old one, and must not touch the new one
        Assert.Equal(SandboxState.Ready, (await host.Sandboxes.GetAsync("sb1")).Info.State);
    }
}
