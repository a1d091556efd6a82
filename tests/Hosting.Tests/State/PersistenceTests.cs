using System.Text.Json.Nodes;
using Isola.Hosting.Tests.Doubles;

namespace Isola.Hosting.Tests.State;

/// <summary>Records on disk: atomic, private, survive a new host, and are quarantined (never deleted) when unreadable.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class PersistenceTests : IDisposable
{
    private readonly TestRoot _t = new();

    public void Dispose() => _t.Dispose();

    [Fact]
    public async Task A_record_survives_a_new_host_which_asks_Status_and_rearms_Wait()
    {
        await using (var host = await _t.StartAsync())
        {
            await host.Sandboxes.RunAsync(new SandboxSpec { Id = "sb1", Name = "web", Labels = new Dictionary<string, string> { ["tier"] = "front" } });
        }

        var statusBefore = _t.Controller.Calls("Status");
        await using (var host = await _t.StartAsync())
        {
            var sandbox = await host.Sandboxes.GetAsync("web");
            Assert.Equal("sb1", sandbox.Id);
            Assert.Equal(SandboxState.Ready, sandbox.Info.State);
            Assert.Equal("front", sandbox.Info.Spec.Labels["tier"]);
            Assert.Equal("fake:///task", sandbox.Info.TaskAddress);
            Assert.Equal(statusBefore + 1, _t.Controller.Calls("Status"));
            Assert.True(((Hosting.IsolaHost)host).Services.Monitor.IsMonitored("sb1"));
            // The re-armed Wait sees an exit that happens while this host runs.
            _t.Controller.Exit("sb1", 7);
            var info = await Eventually.InState(host, "sb1", SandboxState.Stopped);
            Assert.Equal(7u, info.Exit!.Code);
        }
    }

    [Fact]
    public async Task Records_are_written_with_the_public_IsolaJson_conventions()
    {
        SandboxInfo info;
        await using (var host = await _t.StartAsync())
        {
            info = (await host.Sandboxes.RunAsync(new SandboxSpec { Id = "sb1" })).Info;
        }

        Assert.True(Hosting.IsolaJson.Options.IsReadOnly);
        var record = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(_t.Root, "sb1", "sandbox.json")))!;
        var json = JsonNode.Parse(System.Text.Json.JsonSerializer.Serialize(info, Hosting.IsolaJson.Options))!;
        foreach (var node in new[] { record, json })
        {
            Assert.Equal("Ready", (string?)node["state"]); // camelCase names, enums by name
            Assert.Equal("sb1", (string?)node["id"]);
        }
    }

    [Fact]
    public async Task A_sandbox_that_died_while_no_host_ran_is_Stopped_after_recovery()
    {
        await using (var host = await _t.StartAsync())
        {
            await host.Sandboxes.RunAsync(new SandboxSpec { Id = "sb1" });
        }

        _t.Controller.Adopt("sb1", FakeController.Phase.Stopped);
        await using (var host = await _t.StartAsync())
        {
            Assert.Equal(SandboxState.Stopped, (await host.Sandboxes.GetAsync("sb1")).Info.State);
        }
    }

    [Fact]
    public async Task An_unreachable_controller_at_recovery_leaves_the_sandbox_Pending()
    {
        await using (var host = await _t.StartAsync())
        {
            await host.Sandboxes.RunAsync(new SandboxSpec { Id = "sb1" });
        }

        // Enough failures that Pending lasts over a second of backoff, however loaded the machine is.
        for (var i = 0; i < 6; i++)
        {
            _t.Controller.Fail("Status", IsolaException.Unavailable("fake: socket refused"));
        }

        await using (var host = await _t.StartAsync())
        {
            Assert.Equal(SandboxState.Pending, (await host.Sandboxes.GetAsync("sb1")).Info.State);
            await Eventually.InState(host, "sb1", SandboxState.Ready);
        }
    }

    [Fact]
    public async Task Records_are_private_and_written_through_a_temp_file()
    {
        await using var host = await _t.StartAsync();
        await host.Sandboxes.RunAsync(new SandboxSpec { Id = "sb1" });
        var dir = Path.Combine(_t.Root, "sb1");
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(dir));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(_t.Root));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(dir, "sandbox.json")));
        Assert.Empty(Directory.GetFiles(dir, "*.tmp"));
        var json = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(dir, "sandbox.json")))!;
        Assert.Equal("Ready", (string?)json["state"]);
        Assert.Equal("fake", (string?)json["controller"]);
        Assert.Equal("yes", (string?)json["controllerData"]!["fake.created"]);
        Assert.Equal("sb1", (string?)json["controllerState"]!["fake"]!["created"]![0]);
    }

    [Fact]
    public async Task Controller_state_is_handed_back_as_structured_data_after_a_restart_and_left_out_while_empty()
    {
        await using (var host = await _t.StartAsync())
        {
            await host.Sandboxes.RunAsync(new SandboxSpec { Id = "sb1" });
        }

        await using (var host = await _t.StartAsync())
        {
            await host.Sandboxes.GetAsync("sb1");
        }

        Assert.Equal("""{"fake":{"created":["sb1"]}}""", _t.Controller.StateSeen["sb1"]);
        var record = Path.Combine(_t.Root, "sb1", "sandbox.json");
        var json = JsonNode.Parse(await File.ReadAllTextAsync(record))!.AsObject();
        json.Remove("controllerState");
        await File.WriteAllTextAsync(record, json.ToJsonString());
        await using (var host = await _t.StartAsync())
        {
            await host.Sandboxes.GetAsync("sb1");
        }

        Assert.Equal("{}", _t.Controller.StateSeen["sb1"]);
        Assert.Null(JsonNode.Parse(await File.ReadAllTextAsync(record))!["controllerState"]);
    }

    [Fact]
    public async Task An_existing_root_keeps_its_mode_while_sandbox_directories_are_private()
    {
        var shared = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead |
            UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;
        Directory.CreateDirectory(_t.Root, shared);
        await using var host = await _t.StartAsync();
        await host.Sandboxes.RunAsync(new SandboxSpec { Id = "sb1" });
        Assert.Equal(shared, File.GetUnixFileMode(_t.Root));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Path.Combine(_t.Root, "sb1")));
    }

    [Theory]
    [InlineData("{ this is not json")]
    [InlineData("")]
    [InlineData("null")]
    [InlineData("{\"id\":\"other\",\"generation\":\"g\",\"name\":\"n\",\"runtime\":\"fake\",\"controller\":\"fake\",\"spec\":{}}")]
    public async Task A_corrupt_record_is_quarantined_listed_and_kept(string content)
    {
        await using (var host = await _t.StartAsync())
        {
            await host.Sandboxes.RunAsync(new SandboxSpec { Id = "good" });
            await host.Sandboxes.RunAsync(new SandboxSpec { Id = "bad" });
        }

        var record = Path.Combine(_t.Root, "bad", "sandbox.json");
        await File.WriteAllTextAsync(record, content);
        await using (var host = await _t.StartAsync())
        {
            var quarantined = Assert.Single(host.Sandboxes.QuarantinedRecords);
            Assert.StartsWith(Path.Combine(_t.Root, ".quarantine", "bad-"), quarantined);
            Assert.Equal(content, await File.ReadAllTextAsync(Path.Combine(quarantined, "sandbox.json")));
            Assert.False(Directory.Exists(Path.Combine(_t.Root, "bad")));
            Assert.Equal(["good"], (await host.Sandboxes.ListAsync()).Select(s => s.Id));
            // The id is usable again; the quarantined copy stays.
            await host.Sandboxes.RunAsync(new SandboxSpec { Id = "bad2", Name = "bad-again" });
        }

        await using (var host = await _t.StartAsync())
        {
            Assert.Single(host.Sandboxes.QuarantinedRecords);
        }
    }

    [Fact]
    public async Task An_empty_directory_left_by_a_creation_that_died_before_its_first_write_is_dropped()
    {
        Directory.CreateDirectory(Path.Combine(_t.Root, "half"));
        await File.WriteAllTextAsync(Path.Combine(_t.Root, "half", "lock"), "");
        await using var host = await _t.StartAsync();
        Assert.False(Directory.Exists(Path.Combine(_t.Root, "half")));
        Assert.Empty(host.Sandboxes.QuarantinedRecords);
    }
}
