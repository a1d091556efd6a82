using Isola.Hosting.Tests.Doubles;

namespace Isola.Hosting.Tests.Sandboxes;

/// <summary>The state machine driven through the public API against an enforcing controller double: the happy paths, idempotent Stop and Remove, and Inspect.</summary>
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
}
