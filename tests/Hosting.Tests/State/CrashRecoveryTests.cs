using System.Text.Json.Nodes;
using Isola.Hosting.Tests.Doubles;

namespace Isola.Hosting.Tests.State;

/// <summary>
/// A host that dies right after persisting an intent leaves exactly the record the host wrote (state = the intent)
/// and a controller that may or may not have done the side effect. A new host must finish or undo the operation and
/// leak nothing. (Real process crashes through the isola command are in Cli.Tests.)
/// </summary>
public sealed class CrashRecoveryTests : IDisposable
{
    private readonly TestRoot _t = new();

    public void Dispose() => _t.Dispose();

    /// <summary>Runs a sandbox, stops the host, and rewrites the record's state as a crash at that intent would leave it.</summary>
    private async Task CrashAt(SandboxState intent, FakeController.Phase? controllerSide)
    {
        await using (var host = await _t.StartAsync())
        {
            await host.Sandboxes.RunAsync(new SandboxSpec { Id = "sb1" });
        }

        var path = Path.Combine(_t.Root, "sb1", "sandbox.json");
        var json = JsonNode.Parse(await File.ReadAllTextAsync(path))!;
        json["state"] = intent.ToString();
        await File.WriteAllTextAsync(path, json.ToJsonString());
        if (controllerSide is { } phase)
        {
            _t.Controller.Adopt("sb1", phase);
        }
        else
        {
            await _t.Controller.ShutdownAsync(new Isola.Controllers.SandboxContext("sb1", "sb1", new SandboxSpec(), "/nonexistent", new Dictionary<string, string>()), default);
        }
    }

    [Theory]
    [InlineData(SandboxState.Creating, FakeController.Phase.Created)]   // died after Create did its work
    [InlineData(SandboxState.Creating, null)]                          // died before Create did anything
    [InlineData(SandboxState.Starting, FakeController.Phase.Running)]  // died after Start
    [InlineData(SandboxState.Starting, FakeController.Phase.Created)]  // died before Start
    [InlineData(SandboxState.Removing, FakeController.Phase.Stopped)]  // died before Shutdown
    [InlineData(SandboxState.Removing, null)]                          // died after Shutdown, before deleting the record
    public async Task Half_done_create_start_and_remove_are_shut_down_without_leaks(SandboxState intent, FakeController.Phase? side)
    {
        await CrashAt(intent, side);
        var shutdowns = _t.Controller.Calls("Shutdown");
        await using var host = await _t.StartAsync();
        Assert.Empty(await host.Sandboxes.ListAsync());
        Assert.Empty(_t.Controller.Live);
        Assert.False(Directory.Exists(Path.Combine(_t.Root, "sb1")));
        Assert.Equal(shutdowns + 1, _t.Controller.Calls("Shutdown"));
    }

    [Theory]
    [InlineData(FakeController.Phase.Running)] // died before Stop
    [InlineData(FakeController.Phase.Stopped)] // died after Stop, before persisting Stopped
    public async Task Half_done_stop_is_finished(FakeController.Phase side)
    {
        await CrashAt(SandboxState.Stopping, side);
        var stops = _t.Controller.Calls("Stop");
        await using var host = await _t.StartAsync();
        var info = (await host.Sandboxes.ListAsync()).Single();
        Assert.Equal(SandboxState.Stopped, info.State);
        Assert.Equal(FakeController.Phase.Stopped, _t.Controller.Live["sb1"]);
        Assert.Equal(stops + 1, _t.Controller.Calls("Stop"));
        // And it can be removed normally afterwards.
        await (await host.Sandboxes.GetAsync("sb1")).RemoveAsync();
        Assert.Empty(_t.Controller.Live);
    }

    [Fact]
    public async Task A_record_whose_lock_is_held_by_a_live_operation_is_left_alone()
    {
        await CrashAt(SandboxState.Starting, FakeController.Phase.Running);
        // Another "process" (its own lock file descriptor) is in the middle of an operation on sb1.
        using (var held = new FileStream(Path.Combine(_t.Root, "sb1", "lock"), FileMode.Open, FileAccess.ReadWrite, FileShare.None))
        {
            await using var host = await _t.StartAsync();
            Assert.Equal(SandboxState.Starting, (await host.Sandboxes.ListAsync()).Single().State);
            Assert.Equal(FakeController.Phase.Running, _t.Controller.Live["sb1"]);
        }

        await using (var host = await _t.StartAsync())
        {
            Assert.Empty(await host.Sandboxes.ListAsync());
            Assert.Empty(_t.Controller.Live);
        }
    }

    [Fact]
    public async Task A_container_whose_creation_was_interrupted_is_undone_at_recovery()
    {
        var rootfs = Path.GetTempPath();
        await using (var host = await _t.StartAsync())
        {
            var sandbox = await host.Sandboxes.RunAsync(new SandboxSpec { Id = "sb1" });
            await sandbox.Containers.RunAsync(new ContainerSpec { Id = "kept", Rootfs = rootfs, Args = ["sleep"] });
            await sandbox.Containers.CreateAsync(new ContainerSpec { Id = "half", Rootfs = rootfs, Args = ["sleep"] });
        }

        // As if the host died between Prepare/Task Create and persisting Created: the record still says Unknown.
        var path = Path.Combine(_t.Root, "sb1", "sandbox.json");
        var json = JsonNode.Parse(await File.ReadAllTextAsync(path))!;
        json["containers"]!.AsArray().Single(c => (string?)c!["id"] == "half")!["state"] = "Unknown";
        await File.WriteAllTextAsync(path, json.ToJsonString());

        await using (var host = await _t.StartAsync())
        {
            var containers = await (await host.Sandboxes.GetAsync("sb1")).Containers.ListAsync();
            Assert.Equal(["kept"], containers.Select(c => c.Id));
            Assert.False(_t.Tasks.Processes.ContainsKey("half"));
            Assert.True(_t.Tasks.Processes.ContainsKey("kept"));
            Assert.DoesNotContain(_t.Controller.Prepared.Values, p => p.ContainerId == "half");
        }
    }
}
