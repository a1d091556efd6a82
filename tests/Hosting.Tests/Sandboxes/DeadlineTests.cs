using System.Diagnostics;
using Isola.Hosting.Tests.Doubles;

namespace Isola.Hosting.Tests.Sandboxes;

/// <summary>A hung controller cannot hang the host: every call but Wait has the configured deadline.</summary>
public sealed class DeadlineTests : IDisposable
{
    private readonly TestRoot _t = new();

    public void Dispose() => _t.Dispose();

    [Theory]
    [InlineData("Create")]
    [InlineData("Start")]
    public async Task A_hanging_create_or_start_fails_with_DeadlineExceeded_and_is_rolled_back(string operation)
    {
        // 2 s, not less: the operation that does not hang must finish in time even on a loaded machine.
        await using var host = await _t.StartAsync(("Isola:Timeouts:Controller", "2"));
        _t.Controller.Hangs[operation] = true;
        var clock = Stopwatch.StartNew();
        var e = await Assert.ThrowsAsync<IsolaException>(() => host.Sandboxes.RunAsync(new SandboxSpec { Id = "sb1" }));
        clock.Stop();
        Assert.Equal(IsolaErrorCode.DeadlineExceeded, e.Code);
        Assert.Contains("sandbox 'sb1'", e.Message);
        Assert.Contains(operation, e.Message);
        Assert.Contains("within 2s", e.Message);
        // Generous bound: the point is "about the deadline", not "forever" (the double ignores its token).
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), $"took {clock.Elapsed}");
        Assert.Equal(1, _t.Controller.Calls("Shutdown"));
        Assert.Empty(await host.Sandboxes.ListAsync());
    }

    [Fact]
    public async Task A_hanging_stop_fails_with_DeadlineExceeded_and_leaves_Stopping_for_a_retry()
    {
        await using var host = await _t.StartAsync(("Isola:Timeouts:Controller", "00:00:02"), ("Isola:Timeouts:Stop", "0.1"));
        var sandbox = await host.Sandboxes.RunAsync(new SandboxSpec { Id = "sb1" });
        _t.Controller.Hangs["Stop"] = true;
        var e = await Assert.ThrowsAsync<IsolaException>(() => sandbox.StopAsync());
        Assert.Equal(IsolaErrorCode.DeadlineExceeded, e.Code);
        Assert.Contains("Stop", e.Message);
        Assert.Equal(SandboxState.Stopping, (await host.Sandboxes.ListAsync()).Single().State);
        _t.Controller.Hangs.Clear();
        await sandbox.StopAsync();
        Assert.Equal(SandboxState.Stopped, sandbox.Info.State);
    }

    [Fact]
    public async Task A_hanging_Status_at_recovery_does_not_block_start_beyond_the_deadline()
    {
        await using (var host = await _t.StartAsync())
        {
            await host.Sandboxes.RunAsync(new SandboxSpec { Id = "sb1" });
        }

        _t.Controller.Hangs["Status"] = true;
        await using (var host = await _t.StartAsync(("Isola:Timeouts:Controller", "0.3")))
        {
            Assert.Equal(SandboxState.Pending, (await host.Sandboxes.ListAsync()).Single().State);
        }
    }

    [Fact]
    public async Task Cancelling_the_caller_is_a_cancellation_not_a_deadline()
    {
        await using var host = await _t.StartAsync();
        _t.Controller.Hangs["Create"] = true;
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => host.Sandboxes.RunAsync(new SandboxSpec { Id = "sb1" }, cts.Token));
    }

    [Fact]
    public async Task Disposing_the_host_does_not_hang_on_a_Wait_that_ignores_cancellation()
    {
        var host = await _t.StartAsync();
        _t.Controller.Fail("Wait", IsolaException.Unavailable("fake: reconnecting")); // the first Wait fails...
        _t.Controller.Hangs["Wait"] = true;                                          // ...the next one hangs for good
        await host.Sandboxes.RunAsync(new SandboxSpec { Id = "sb1" });
        await Eventually(() => _t.Controller.Calls("Wait") >= 2);
        var clock = Stopwatch.StartNew();
        await host.DisposeAsync();
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), $"dispose took {clock.Elapsed}");
    }

    private static async Task Eventually(Func<bool> condition)
    {
        for (var i = 0; i < 1000 && !condition(); i++)
        {
            await Task.Delay(10);
        }

        Assert.True(condition());
    }

    [Fact]
    public async Task A_plugins_own_cancellation_is_internal_naming_the_call_not_a_deadline()
    {
        var e = await Assert.ThrowsAsync<IsolaException>(() => Hosting.Deadline.RunAsync<int>(
            "sandbox 'sb1': controller 'fake' Status", TimeSpan.FromMinutes(1),
            _ => throw new OperationCanceledException("the plugin's own timer"), CancellationToken.None));
        Assert.Equal(IsolaErrorCode.Internal, e.Code);
        Assert.Contains("sandbox 'sb1': controller 'fake' Status", e.Message);
        Assert.Contains("the plugin's own timer", e.Message);
    }

    [Fact]
    public async Task A_plugin_that_honours_the_deadline_token_is_reported_as_DeadlineExceeded()
    {
        var e = await Assert.ThrowsAsync<IsolaException>(() => Hosting.Deadline.RunAsync(
            "sandbox 'sb1': controller 'fake' Status", TimeSpan.FromMilliseconds(200),
            ct => Task.Delay(Timeout.Infinite, ct), CancellationToken.None));
        Assert.Equal(IsolaErrorCode.DeadlineExceeded, e.Code);
    }
}
