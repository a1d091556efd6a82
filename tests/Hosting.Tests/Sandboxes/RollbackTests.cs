using Isola.Hosting.Tests.Doubles;

namespace Isola.Hosting.Tests.Sandboxes;

/// <summary>A failed Create, Start or Shutdown rolls back and leaves nothing behind, or leaves a record that says what to finish.</summary>
public sealed class RollbackTests : IDisposable
{
    private readonly TestRoot _t = new();

    public void Dispose() => _t.Dispose();

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
}
