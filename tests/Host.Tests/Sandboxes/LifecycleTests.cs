using Isola.Host.Tests.Doubles;

namespace Isola.Host.Tests.Sandboxes;

/// <summary>The state machine driven through the public API against an enforcing controller double.</summary>
public sealed class LifecycleTests : IDisposable
{
    private readonly TestRoot _t = new();

    public void Dispose() => _t.Dispose();

    [Fact]
    public async Task Run_creates_then_starts_and_reports_the_task_address()
    {
        await using var host = await _t.StartAsync();
        var sandbox = await host.Sandboxes.RunAsync(new SandboxSpec { Id = "sb1", Name = "web" });
        Assert.Equal(SandboxState.Ready, sandbox.Info.State);
        Assert.Equal("fake:///task", sandbox.Info.TaskAddress);
        Assert.Equal(4242u, sandbox.Info.Pid);
        Assert.Equal("fake", sandbox.Info.Runtime);
        Assert.Equal(1, _t.Controller.Calls("Create"));
        Assert.Equal(1, _t.Controller.Calls("Start"));
        Assert.Equal(FakeController.Phase.Running, _t.Controller.Live["sb1"]);
        Assert.Equal("sb1", (await host.Sandboxes.GetAsync("web")).Id);
    }

    [Fact]
    public async Task Create_leaves_it_Created_and_Start_makes_it_Ready()
    {
        await using var host = await _t.StartAsync();
        var sandbox = await host.Sandboxes.CreateAsync(new SandboxSpec { Id = "sb1" });
        Assert.Equal(SandboxState.Created, sandbox.Info.State);
        Assert.Equal(0, _t.Controller.Calls("Start"));
        await sandbox.StartAsync();
        Assert.Equal(SandboxState.Ready, sandbox.Info.State);
    }

    [Fact]
    public async Task Start_is_refused_when_Ready_or_Stopped()
    {
        await using var host = await _t.StartAsync();
        var sandbox = await host.Sandboxes.RunAsync(new SandboxSpec { Id = "sb1" });
        var e = await Assert.ThrowsAsync<IsolaException>(() => sandbox.StartAsync());
        Assert.Equal(IsolaErrorCode.FailedPrecondition, e.Code);
        Assert.Contains("'sb1'", e.Message);
        await sandbox.StopAsync();
        e = await Assert.ThrowsAsync<IsolaException>(() => sandbox.StartAsync());
        Assert.Equal(IsolaErrorCode.FailedPrecondition, e.Code);
        Assert.Equal(1, _t.Controller.Calls("Start"));
    }

    [Fact]
    public async Task Stop_twice_and_Remove_twice_succeed_and_call_the_controller_once()
    {
        await using var host = await _t.StartAsync();
        var sandbox = await host.Sandboxes.RunAsync(new SandboxSpec { Id = "sb1" });
        await sandbox.StopAsync();
        await sandbox.StopAsync();
        Assert.Equal(SandboxState.Stopped, sandbox.Info.State);
        Assert.Equal(1, _t.Controller.Calls("Stop"));
        await sandbox.RemoveAsync();
        await sandbox.RemoveAsync();
        Assert.Equal(1, _t.Controller.Calls("Shutdown"));
        Assert.Empty(_t.Controller.Live);
        Assert.False(Directory.Exists(Path.Combine(_t.Root, "sb1")));
        var e = await Assert.ThrowsAsync<IsolaException>(() => host.Sandboxes.GetAsync("sb1"));
        Assert.Equal(IsolaErrorCode.NotFound, e.Code);
        Assert.Contains("'sb1'", e.Message);
    }

    [Fact]
    public async Task Remove_of_a_Ready_sandbox_stops_it_first()
    {
        await using var host = await _t.StartAsync();
        var sandbox = await host.Sandboxes.RunAsync(new SandboxSpec { Id = "sb1" });
        await sandbox.RemoveAsync();
        Assert.Equal(1, _t.Controller.Calls("Stop"));
        Assert.Equal(1, _t.Controller.Calls("Shutdown"));
        Assert.Empty(await host.Sandboxes.ListAsync());
    }

    [Fact]
    public async Task Remove_of_a_Created_sandbox_shuts_it_down_without_Stop()
    {
        await using var host = await _t.StartAsync();
        var sandbox = await host.Sandboxes.CreateAsync(new SandboxSpec { Id = "sb1" });
        await sandbox.RemoveAsync();
        Assert.Equal(0, _t.Controller.Calls("Stop"));
        Assert.Equal(1, _t.Controller.Calls("Shutdown"));
        Assert.Empty(_t.Controller.Live);
    }

    [Fact]
    public async Task NotFound_from_Shutdown_and_Stop_counts_as_done()
    {
        await using var host = await _t.StartAsync();
        var sandbox = await host.Sandboxes.RunAsync(new SandboxSpec { Id = "sb1" });
        _t.Controller.Fail("Stop", IsolaException.NotFound("fake: gone"));
        _t.Controller.Fail("Shutdown", IsolaException.NotFound("fake: gone"));
        await sandbox.StopAsync();
        Assert.Equal(SandboxState.Stopped, sandbox.Info.State);
        await sandbox.RemoveAsync();
        Assert.Empty(await host.Sandboxes.ListAsync());
    }

    [Fact]
    public async Task A_failing_Shutdown_keeps_the_record_in_Removing_and_a_retry_finishes()
    {
        await using var host = await _t.StartAsync();
        var sandbox = await host.Sandboxes.RunAsync(new SandboxSpec { Id = "sb1" });
        _t.Controller.Fail("Shutdown", IsolaException.Unavailable("fake: runtime down"));
        var e = await Assert.ThrowsAsync<IsolaException>(() => sandbox.RemoveAsync());
        Assert.Equal(IsolaErrorCode.Unavailable, e.Code);
        Assert.Contains("'sb1'", e.Message);
        Assert.Equal(SandboxState.Removing, (await host.Sandboxes.ListAsync()).Single().State);
        await sandbox.RemoveAsync();
        Assert.Empty(await host.Sandboxes.ListAsync());
        Assert.Empty(_t.Controller.Live);
    }

    [Fact]
    public async Task Start_failure_rolls_back_with_Shutdown_and_leaves_nothing()
    {
        await using var host = await _t.StartAsync();
        _t.Controller.Fail("Start", IsolaException.Unavailable("fake: cannot start"));
        var e = await Assert.ThrowsAsync<IsolaException>(() => host.Sandboxes.RunAsync(new SandboxSpec { Id = "sb1" }));
        Assert.Contains("'sb1'", e.Message);
        Assert.Contains("cannot start", e.Message);
        Assert.Equal(1, _t.Controller.Calls("Shutdown"));
        Assert.Empty(_t.Controller.Live);
        Assert.Empty(await host.Sandboxes.ListAsync());
        Assert.False(Directory.Exists(Path.Combine(_t.Root, "sb1")));
        // The id is free again.
        await host.Sandboxes.RunAsync(new SandboxSpec { Id = "sb1" });
    }

    [Fact]
    public async Task A_malformed_task_address_from_Start_fails_the_start_and_rolls_back()
    {
        await using var host = await _t.StartAsync();
        _t.Controller.TaskAddress = "no-scheme-here";
        var e = await Assert.ThrowsAsync<IsolaException>(() => host.Sandboxes.RunAsync(new SandboxSpec { Id = "sb1" }));
        Assert.Equal(IsolaErrorCode.InvalidArgument, e.Code);
        Assert.Contains("'no-scheme-here'", e.Message);
        Assert.Equal(1, _t.Controller.Calls("Shutdown"));
        Assert.Empty(await host.Sandboxes.ListAsync());
    }

    [Fact]
    public async Task Create_failure_rolls_back_and_leaves_nothing()
    {
        await using var host = await _t.StartAsync();
        _t.Controller.Fail("Create", new InvalidOperationException("disk full"));
        var e = await Assert.ThrowsAsync<IsolaException>(() => host.Sandboxes.RunAsync(new SandboxSpec { Id = "sb1" }));
        Assert.Equal(IsolaErrorCode.Internal, e.Code);
        Assert.Contains("sandbox 'sb1'", e.Message);
        Assert.Contains("disk full", e.Message);
        Assert.Equal(0, _t.Controller.Calls("Start"));
        Assert.Equal(1, _t.Controller.Calls("Shutdown"));
        Assert.Empty(await host.Sandboxes.ListAsync());
    }

    [Theory]
    [InlineData("../etc")]
    [InlineData("a/b")]
    [InlineData(".hidden")]
    [InlineData("-x")]
    [InlineData("")]
    [InlineData("sp ace")]
    public async Task Invalid_ids_are_refused_naming_them_before_any_side_effect(string id)
    {
        await using var host = await _t.StartAsync();
        var e = await Assert.ThrowsAsync<IsolaException>(() => host.Sandboxes.RunAsync(new SandboxSpec { Id = id }));
        Assert.Equal(IsolaErrorCode.InvalidArgument, e.Code);
        Assert.Contains($"'{id}'", e.Message);
        Assert.Equal(0, _t.Controller.Calls("Create"));
        Assert.DoesNotContain(Directory.EnumerateDirectories(_t.Root), d => !Path.GetFileName(d).StartsWith('.'));
    }

    [Fact]
    public async Task Too_long_ids_are_refused()
    {
        await using var host = await _t.StartAsync();
        var e = await Assert.ThrowsAsync<IsolaException>(() => host.Sandboxes.RunAsync(new SandboxSpec { Id = new string('a', 65) }));
        Assert.Equal(IsolaErrorCode.InvalidArgument, e.Code);
    }

    [Fact]
    public async Task Ids_and_names_are_unique()
    {
        await using var host = await _t.StartAsync();
        await host.Sandboxes.RunAsync(new SandboxSpec { Id = "sb1", Name = "web" });
        var e = await Assert.ThrowsAsync<IsolaException>(() => host.Sandboxes.RunAsync(new SandboxSpec { Id = "sb1" }));
        Assert.Equal(IsolaErrorCode.AlreadyExists, e.Code);
        e = await Assert.ThrowsAsync<IsolaException>(() => host.Sandboxes.RunAsync(new SandboxSpec { Id = "sb2", Name = "web" }));
        Assert.Equal(IsolaErrorCode.AlreadyExists, e.Code);
        Assert.Contains("'web'", e.Message);
        Assert.Contains("'sb1'", e.Message);
        e = await Assert.ThrowsAsync<IsolaException>(() => host.Sandboxes.RunAsync(new SandboxSpec { Id = "web" }));
        Assert.Equal(IsolaErrorCode.AlreadyExists, e.Code);
        Assert.Equal(1, _t.Controller.Calls("Create"));
    }

    [Fact]
    public async Task Unknown_runtime_is_refused_naming_it_and_the_configured_ones()
    {
        await using var host = await _t.StartAsync();
        var e = await Assert.ThrowsAsync<IsolaException>(() => host.Sandboxes.RunAsync(new SandboxSpec { Runtime = "kata" }));
        Assert.Equal(IsolaErrorCode.InvalidArgument, e.Code);
        Assert.Contains("'kata'", e.Message);
        Assert.Contains("fake", e.Message);
    }

    [Fact]
    public async Task The_background_Wait_records_an_exit_as_Stopped_with_its_status()
    {
        await using var host = await _t.StartAsync();
        var sandbox = await host.Sandboxes.RunAsync(new SandboxSpec { Id = "sb1" });
        _t.Controller.Exit("sb1", 3);
        var exit = await sandbox.WaitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(3u, exit.Code);
        var info = await Eventually(host, "sb1", SandboxState.Stopped);
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
        await Eventually(host, "sb1", SandboxState.Pending);
        await Eventually(host, "sb1", SandboxState.Ready);
        // Back to Ready, the background Wait is re-armed (a second Wait call).
        for (var i = 0; i < 500 && _t.Controller.Calls("Wait") < 2; i++)
        {
            await Task.Delay(10);
        }

        Assert.Equal(2, _t.Controller.Calls("Wait"));
        _t.Controller.Exit("sb1", 0);
        await Eventually(host, "sb1", SandboxState.Stopped);
    }

    [Fact]
    public async Task Wait_NotFound_means_Stopped()
    {
        await using var host = await _t.StartAsync();
        _t.Controller.Fail("Wait", IsolaException.NotFound("fake: no such sandbox"));
        await host.Sandboxes.RunAsync(new SandboxSpec { Id = "sb1" });
        var info = await Eventually(host, "sb1", SandboxState.Stopped);
        Assert.Null(info.Exit);
    }

    [Fact]
    public void Backoff_grows_is_capped_and_jittered()
    {
        var cap = TimeSpan.FromSeconds(2);
        var first = Isola.Hosting.Sandboxes.SandboxManager.Backoff(0, cap);
        Assert.InRange(first.TotalMilliseconds, 50, 100);
        var samples = Enumerable.Range(0, 50).Select(_ => Isola.Hosting.Sandboxes.SandboxManager.Backoff(30, cap)).ToList();
        Assert.All(samples, s => Assert.InRange(s.TotalMilliseconds, 1000, 2000));
        Assert.True(samples.Distinct().Count() > 1, "backoff is not jittered");
    }

    [Fact]
    public async Task Inspect_refreshes_from_the_controller_and_Platform_and_UpdateResources_reach_it()
    {
        await using var host = await _t.StartAsync();
        var sandbox = await host.Sandboxes.RunAsync(new SandboxSpec { Id = "sb1" });
        Assert.Equal(new PlatformInfo("linux", "amd64"), await sandbox.PlatformAsync());
        await sandbox.UpdateResourcesAsync(new LinuxResources { MemoryLimitBytes = 1 << 26 });
        Assert.Equal(1, _t.Controller.Calls("UpdateResources"));
        Assert.Equal(1 << 26, sandbox.Info.Spec.Resources!.MemoryLimitBytes);
        _t.Controller.Adopt("sb1", FakeController.Phase.Stopped);
        var info = await sandbox.InspectAsync();
        Assert.Equal(SandboxState.Stopped, info.State);
        var e = await Assert.ThrowsAsync<IsolaException>(() => sandbox.UpdateResourcesAsync(new LinuxResources()));
        Assert.Equal(IsolaErrorCode.FailedPrecondition, e.Code);
    }

    internal static async Task<SandboxInfo> Eventually(Hosting.IsolaHost host, string id, SandboxState state)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (true)
        {
            var info = (await host.Sandboxes.ListAsync()).Single(s => s.Id == id);
            if (info.State == state)
            {
                return info;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new Xunit.Sdk.XunitException($"sandbox {id} stayed {info.State}, expected {state}");
            }

            await Task.Delay(20);
        }
    }
}
