using System.Diagnostics;
using System.Text.Json.Nodes;
using Isola.Hosting.Tests.Doubles;
using Isola.Hosting.Faults;

namespace Isola.Hosting.Tests.State;

/// <summary>What a crash leaves that is not a half-done sandbox intent: a first record write cut short, a record that
/// cannot be read, a container run cut short. (Real SIGKILLs through the isola command: Integration.Tests/Faults.)</summary>
public sealed class CrashLeftoverTests : IDisposable
{
    private readonly TestRoot _t = new();
    private readonly string _rootfs = Path.Combine(Path.GetTempPath(), "isola-rootfs-" + Guid.NewGuid().ToString("N"));

    public CrashLeftoverTests() => _t.Controller.TaskExists = id => _t.Tasks.Processes.ContainsKey(id);

    public void Dispose() => _t.Dispose();

    /// <summary>A sandbox directory as a process killed inside its first record write leaves it: the lock file and
    /// the record's temp file, no record.</summary>
    private string LeaveFirstWriteLeftover(string id)
    {
        var dir = Path.Combine(_t.Root, id);
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "lock"), "");
        File.WriteAllText(Path.Combine(dir, ".sandbox.json.0123456789abcdef.tmp"), "{\"id\":");
        return dir;
    }

    [Fact]
    public async Task A_first_record_write_cut_short_is_swept_by_the_next_host_and_its_id_is_free()
    {
        Directory.CreateDirectory(_t.Root);
        var dir = LeaveFirstWriteLeftover("sb1");
        await using var host = await _t.StartAsync(("Isola:Recovery", "OnDemand"));
        Assert.False(Directory.Exists(dir));
        var sandbox = await host.Sandboxes.RunAsync(new SandboxSpec { Id = "sb1" });
        Assert.Equal(SandboxState.Ready, sandbox.Info.State);
    }

    [Fact]
    public async Task A_first_record_write_cut_short_while_a_host_runs_does_not_hold_the_id_for_good()
    {
        await using var host = await _t.StartAsync();
        LeaveFirstWriteLeftover("sb1");
        var sandbox = await host.Sandboxes.RunAsync(new SandboxSpec { Id = "sb1" });
        Assert.Equal(SandboxState.Ready, sandbox.Info.State);
    }

    [Fact]
    public async Task A_directory_with_a_record_temp_file_and_a_held_lock_is_not_swept()
    {
        await using var host = await _t.StartAsync();
        var dir = LeaveFirstWriteLeftover("sb1");
        using (new FileStream(Path.Combine(dir, "lock"), FileMode.Open, FileAccess.ReadWrite, FileShare.None))
        {
            var e = await Assert.ThrowsAsync<IsolaException>(() => host.Sandboxes.RunAsync(new SandboxSpec { Id = "sb1" }));
            Assert.Equal(IsolaErrorCode.AlreadyExists, e.Code);
        }

        Assert.True(Directory.Exists(dir));
    }

    [Fact]
    public async Task An_unreadable_record_of_a_live_sandbox_is_shut_down_from_its_previous_copy_then_quarantined()
    {
        await using (var host = await _t.StartAsync())
        {
            await host.Sandboxes.RunAsync(new SandboxSpec { Id = "sb1", Name = "web" });
        }

        Assert.True(File.Exists(Path.Combine(_t.Root, "sb1", "sandbox.json.prev")));
        await File.WriteAllTextAsync(Path.Combine(_t.Root, "sb1", "sandbox.json"), "{ not json");
        var shutdowns = _t.Controller.Calls("Shutdown");

        await using (var host = await _t.StartAsync(("Isola:Recovery", "OnDemand")))
        {
            Assert.Equal(shutdowns + 1, _t.Controller.Calls("Shutdown"));
            Assert.Empty(_t.Controller.Live);
            Assert.Empty(await host.Sandboxes.ListAsync());
            var quarantined = Assert.Single(host.Sandboxes.QuarantinedRecords);
            Assert.Equal("{ not json", await File.ReadAllTextAsync(Path.Combine(quarantined, "sandbox.json")));
            Assert.Contains("shut down through runtime 'fake'", await File.ReadAllTextAsync(Path.Combine(quarantined, "QUARANTINED")));
            // Its name is free again.
            await host.Sandboxes.RunAsync(new SandboxSpec { Name = "web" });
        }
    }

    [Fact]
    public async Task An_unreadable_record_with_no_earlier_copy_is_quarantined_and_says_it_was_not_shut_down()
    {
        await using (var host = await _t.StartAsync())
        {
            await host.Sandboxes.RunAsync(new SandboxSpec { Id = "sb1" });
        }

        File.Delete(Path.Combine(_t.Root, "sb1", "sandbox.json.prev"));
        await File.WriteAllTextAsync(Path.Combine(_t.Root, "sb1", "sandbox.json"), "[]");
        await using var again = await _t.StartAsync();
        var quarantined = Assert.Single(again.Sandboxes.QuarantinedRecords);
        Assert.Contains("no earlier copy", await File.ReadAllTextAsync(Path.Combine(quarantined, "QUARANTINED")));
    }

    [Fact]
    public async Task A_removed_sandbox_leaves_no_previous_record_behind()
    {
        await using var host = await _t.StartAsync();
        var sandbox = await host.Sandboxes.RunAsync(new SandboxSpec { Id = "sb1" });
        await sandbox.RemoveAsync();
        Assert.False(Directory.Exists(Path.Combine(_t.Root, "sb1")));
    }

    [Fact]
    public async Task A_container_run_keeps_its_record_Unknown_until_its_task_has_started()
    {
        await using var host = await _t.StartAsync(("Isola:Timeouts:Task", "00:00:01"));
        var sandbox = await host.Sandboxes.RunAsync(new SandboxSpec { Id = "sb1" });
        _t.Tasks.Hangs["Start"] = true;
        var run = sandbox.Containers.RunAsync(new ContainerSpec { Id = "c1", Rootfs = _rootfs, Args = ["true"] });
        while (!_t.Tasks.Log.Contains("Start c1"))
        {
            await Task.Delay(10);
        }

        // Between Task Create and Task Start the record must say "interrupted creation", never Created: a crash here
        // is then undone by recovery, where a Created container would wait for a start that never comes.
        var record = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(_t.Root, "sb1", "sandbox.json")))!;
        Assert.Equal("Unknown", (string?)record["containers"]![0]!["state"]);
        await Assert.ThrowsAsync<IsolaException>(() => run);
        Assert.Empty(await sandbox.Containers.ListAsync());
        Assert.False(_t.Tasks.Processes.ContainsKey("c1"));
    }

    [Fact]
    public async Task A_container_creation_cut_short_is_undone_by_the_next_short_lived_host()
    {
        await using (var host = await _t.StartAsync())
        {
            var sandbox = await host.Sandboxes.RunAsync(new SandboxSpec { Id = "sb1" });
            await sandbox.Containers.CreateAsync(new ContainerSpec { Id = "c1", Rootfs = _rootfs, Args = ["true"] });
        }

        // As a run killed between Task Create and Task Start leaves it.
        var path = Path.Combine(_t.Root, "sb1", "sandbox.json");
        var record = JsonNode.Parse(await File.ReadAllTextAsync(path))!;
        record["containers"]![0]!["state"] = "Unknown";
        await File.WriteAllTextAsync(path, record.ToJsonString());
        Assert.True(_t.Tasks.Processes.ContainsKey("c1"));

        await using var again = await _t.StartAsync(("Isola:Recovery", "OnDemand"));
        Assert.False(_t.Tasks.Processes.ContainsKey("c1"));
        Assert.Empty(_t.Controller.Prepared);
        Assert.Empty((await again.Sandboxes.ListAsync()).Single().Containers);
    }

    [Theory]
    [InlineData("Full")]
    [InlineData("OnDemand")]
    public async Task A_sandbox_that_exits_on_its_own_takes_its_containers_with_it(string recovery)
    {
        await using var host = await _t.StartAsync(("Isola:Recovery", recovery));
        var sandbox = await host.Sandboxes.RunAsync(new SandboxSpec { Id = "sb1" });
        await sandbox.Containers.RunAsync(new ContainerSpec { Id = "c1", Rootfs = _rootfs, Args = ["sleep", "1000"] });
        var stops = _t.Controller.Calls("Stop");

        _t.Controller.Exit("sb1", 2); // the pause died; its containers did not
        _t.Controller.Adopt("sb1", FakeController.Phase.Stopped);
        var info = await Eventually.InState(host, "sb1", SandboxState.Stopped);

        Assert.Equal(2u, info.Exit?.Code);
        Assert.Contains("Kill9 c1", _t.Tasks.Log);
        Assert.Equal(Executors.TaskStatus.Stopped, _t.Tasks.Processes["c1"].Status);
        Assert.Equal(ContainerState.Stopped, info.Containers.Single().State);
        Assert.Equal(stops + 1, _t.Controller.Calls("Stop"));
    }

    [Fact]
    public async Task A_short_lived_host_whose_status_call_times_out_says_why_and_persists_nothing()
    {
        await using (var first = await _t.StartAsync())
        {
            await first.Sandboxes.RunAsync(new SandboxSpec { Id = "sb1" });
        }

        _t.Controller.Hangs["Status"] = true;
        await using var host = await _t.StartAsync(("Isola:Recovery", "OnDemand"), ("Isola:Timeouts:Controller", "00:00:01"));
        var listed = (await host.Sandboxes.ListAsync()).Single();
        Assert.Equal(SandboxState.Ready, listed.State);
        Assert.Contains("Status", listed.StatusError);
        Assert.Contains("sb1", listed.StatusError);
        var inspected = await host.Sandboxes.GetAsync("sb1");
        Assert.NotNull(inspected.Info.StatusError);
        var record = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(_t.Root, "sb1", "sandbox.json")))!;
        Assert.Equal("Ready", (string?)record["state"]);
        Assert.Null(record["statusError"]);
    }

    [Fact]
    public async Task A_long_lived_host_lists_a_sandbox_whose_recorded_process_ended_as_it_is_now()
    {
        using var process = Process.Start(new ProcessStartInfo("sleep", "300"))!;
        _t.Controller.SandboxPid = (uint)process.Id;
        await using var host = await _t.StartAsync(("Isola:Recovery", "Full"));
        await host.Sandboxes.RunAsync(new SandboxSpec { Id = "sb1" });
        Assert.Equal(SandboxState.Ready, (await host.Sandboxes.ListAsync()).Single().State);

        // The process ends and the controller knows, but the background Wait has not returned yet.
        process.Kill();
        await process.WaitForExitAsync();
        _t.Controller.Adopt("sb1", FakeController.Phase.Stopped);
        Assert.Equal(SandboxState.Stopped, (await host.Sandboxes.ListAsync()).Single().State);
    }

    [Theory]
    [InlineData(null, null)]
    [InlineData("", null)]
    [InlineData("record:Ready", "record:Ready", 1)]
    [InlineData("task:Start:before#3", "task:Start:before", 3)]
    [InlineData("controller:Create:after#0", "controller:Create:after#0", 1)]
    public void Crash_points_are_armed_by_name_and_hit_count(string? value, string? name, int hit = 1)
    {
        var parsed = CrashPoints.Parse(value);
        Assert.Equal(name, parsed?.Name);
        if (name is not null)
        {
            Assert.Equal(hit, parsed!.Value.Hit);
        }
    }
}
