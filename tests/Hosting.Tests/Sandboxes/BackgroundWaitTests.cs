using Isola.Hosting.Tests.Doubles;

namespace Isola.Hosting.Tests.Sandboxes;

/// <summary>The background Wait of a Ready sandbox: exits, a lost controller (Pending) and its capped, jittered backoff.</summary>
public sealed class BackgroundWaitTests : IDisposable
{
    private readonly TestRoot _t = new();

    public void Dispose() => _t.Dispose();

    [Fact]
    public async Task The_background_Wait_records_an_exit_as_Stopped_with_its_status()
    {
        await using var host = await _t.StartAsync();
        var sandbox = await host.Sandboxes.RunAsync(new SandboxSpec { Id = "sb1" });
        _t.Controller.Exit("sb1", 3);
        var exit = await sandbox.WaitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(3u, exit.Code);
        var info = await Eventually.InState(host, "sb1", SandboxState.Stopped);
        Assert.Equal(3u, info.Exit!.Code);
    }

    [Fact]
    public async Task Wait_losing_the_controller_goes_Pending_then_back_to_Ready()
    {
        await using var host = await _t.StartAsync();
        _t.Controller.Fail("Wait", IsolaException.Unavailable("fake: socket closed"));
        for (var i = 0; i < 4; i++)
        {
            _t.Controller.Fail("Status", IsolaException.Unavailable("fake: still down"));
        }

        await host.Sandboxes.RunAsync(new SandboxSpec { Id = "sb1" });
        await Eventually.InState(host, "sb1", SandboxState.Pending);
        await Eventually.InState(host, "sb1", SandboxState.Ready);
        // Back to Ready, the background Wait is re-armed (a second Wait call).
        for (var i = 0; i < 500 && _t.Controller.Calls("Wait") < 2; i++)
        {
            await Task.Delay(10);
        }

        Assert.Equal(2, _t.Controller.Calls("Wait"));
        _t.Controller.Exit("sb1", 0);
        await Eventually.InState(host, "sb1", SandboxState.Stopped);
    }

    [Fact]
    public async Task Wait_NotFound_means_Stopped()
    {
        await using var host = await _t.StartAsync();
        _t.Controller.Fail("Wait", IsolaException.NotFound("fake: no such sandbox"));
        await host.Sandboxes.RunAsync(new SandboxSpec { Id = "sb1" });
        var info = await Eventually.InState(host, "sb1", SandboxState.Stopped);
        Assert.Null(info.Exit);
    }

    [Fact]
    public void Backoff_grows_is_capped_and_jittered()
    {
        var cap = TimeSpan.FromSeconds(2);
        var first = Isola.Hosting.Sandboxes.SandboxMonitor.Backoff(0, cap);
        Assert.InRange(first.TotalMilliseconds, 50, 100);
        var samples = Enumerable.Range(0, 50).Select(_ => Isola.Hosting.Sandboxes.SandboxMonitor.Backoff(30, cap)).ToList();
        Assert.All(samples, s => Assert.InRange(s.TotalMilliseconds, 1000, 2000));
        Assert.True(samples.Distinct().Count() > 1, "backoff is not jittered");
    }
}
