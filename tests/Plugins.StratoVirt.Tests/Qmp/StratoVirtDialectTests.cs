using System.Text.Json.Nodes;
using Isola.Plugins.StratoVirt.Qmp;
using Isola.Plugins.StratoVirt.Vmm.Hotplug;
using Isola.Vmm;

namespace Isola.Plugins.StratoVirt.Tests.Qmp;

/// <summary>The QMP client against StratoVirt's stricter dialect (a server enforcing its documented rules).</summary>
public sealed class StratoVirtDialectTests : IAsyncLifetime
{
    private readonly string _dir = TestPaths.NewTempDir("qmp-sv");
    private StratoVirtQmpServer _server = null!;

    public Task InitializeAsync()
    {
        _server = new StratoVirtQmpServer(Path.Combine(_dir, "qmp.sock"), ["pcie.1", "pcie.2"]);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        Directory.Delete(_dir, true);
    }

    private Task<QmpClient> ConnectAsync(TimeSpan? timeout = null) =>
        QmpClient.ConnectAsync(_server.Path, new QmpClientOptions { CommandTimeout = timeout ?? TimeSpan.FromSeconds(5) }, null, CancellationToken.None);

    [Fact]
    public async Task Handshake_sends_bare_capabilities_and_accepts_a_reply_without_id()
    {
        await using var qmp = await ConnectAsync();

        Assert.Equal((5, 0, 1), (qmp.Greeting.Major, qmp.Greeting.Minor, qmp.Greeting.Micro));
        Assert.StartsWith("StratoVirt-", qmp.Greeting.Package);
        Assert.Empty(qmp.Greeting.Capabilities);
        var caps = Assert.Single(_server.Commands);
        Assert.Equal("qmp_capabilities", caps["execute"]!.GetValue<string>());
        Assert.Null(caps["arguments"]);
        Assert.Equal(System.Text.Json.JsonValueKind.String, caps["id"]!.GetValueKind());
        var status = await qmp.ExecuteAsync("query-status", null, CancellationToken.None) as JsonObject;
        Assert.Equal("running", status!["status"]!.GetValue<string>());
        Assert.Empty(_server.Violations);
    }

    [Fact]
    public async Task Concurrent_commands_are_never_pipelined_into_one_read()
    {
        await using var qmp = await ConnectAsync();

        var calls = Enumerable.Range(0, 20).Select(_ => qmp.ExecuteAsync("query-status", null, CancellationToken.None)).ToArray();
        var results = await Task.WhenAll(calls);

        Assert.All(results, r => Assert.Equal("running", r!["status"]!.GetValue<string>()));
        Assert.Empty(_server.Violations);
        Assert.Equal(21, _server.Commands.Count);
        Assert.Equal(21, _server.Commands.Select(c => c["id"]!.GetValue<string>()).Distinct().Count());
    }

    [Fact]
    public async Task A_command_without_a_reply_in_time_gives_up_the_connection_instead_of_sending_the_next_one()
    {
        _server.ReplyDelays["query-status"] = TimeSpan.FromSeconds(3);
        await using var qmp = await ConnectAsync(TimeSpan.FromMilliseconds(300));

        var late = await Assert.ThrowsAsync<IsolaException>(() => qmp.ExecuteAsync("query-status", null, CancellationToken.None));
        var next = await Assert.ThrowsAsync<IsolaException>(() => qmp.ExecuteAsync("stop", null, CancellationToken.None));

        Assert.Equal(IsolaErrorCode.DeadlineExceeded, late.Code);
        Assert.Equal(IsolaErrorCode.Unavailable, next.Code);
        Assert.Contains("abandoned", next.Message);
        Assert.True(qmp.IsAbandoned);
        Assert.DoesNotContain(_server.Commands, c => c["execute"]!.GetValue<string>() == "stop");
        await using var again = await qmp.ConnectAgainAsync(CancellationToken.None);
        await again.ExecuteAsync("stop", null, CancellationToken.None);
        Assert.Equal(2, _server.Connections);
        Assert.Empty(_server.Violations);
    }

    [Fact]
    public async Task A_throwing_event_handler_neither_closes_the_connection_nor_starves_the_other_handlers()
    {
        await using var qmp = await ConnectAsync();
        using var faulty = qmp.Subscribe(_ => throw new InvalidOperationException("handler bug"));

        var (_, stop) = await qmp.ExecuteAndWaitEventAsync("stop", null, e => e.Name == "STOP", TimeSpan.FromSeconds(5), CancellationToken.None);
        var status = await qmp.ExecuteAsync("query-status", null, CancellationToken.None) as JsonObject;

        Assert.Equal("STOP", stop.Name);
        Assert.True(qmp.IsConnected);
        Assert.Equal("running", status!["status"]!.GetValue<string>());
        Assert.Empty(_server.Violations);
    }

    [Fact]
    public async Task Throttled_commands_are_retried_until_they_pass()
    {
        _server.MaxCommandsPerSecond = 5;
        await using var qmp = await ConnectAsync(TimeSpan.FromSeconds(10));

        for (var i = 0; i < 12; i++)
        {
            await qmp.ExecuteAsync("query-status", null, CancellationToken.None);
        }

        Assert.True(_server.Throttled > 0, "the server should have throttled some commands");
        Assert.Equal(13, _server.Commands.Count);
        Assert.Empty(_server.Violations);
    }

    [Fact]
    public async Task Events_sent_after_the_reply_are_delivered()
    {
        await using var qmp = await ConnectAsync();

        var (_, stop) = await qmp.ExecuteAndWaitEventAsync("stop", null, e => e.Name == "STOP", TimeSpan.FromSeconds(5), CancellationToken.None);
        var (_, resume) = await qmp.ExecuteAndWaitEventAsync("cont", null, e => e.Name == "RESUME", TimeSpan.FromSeconds(5), CancellationToken.None);

        Assert.Equal("STOP", stop.Name);
        Assert.Equal("RESUME", resume.Name);
        Assert.True(resume.Timestamp >= stop.Timestamp);
    }

    [Fact]
    public async Task Hotplug_arguments_pass_the_strict_schema_and_unplug_waits_for_DEVICE_DELETED()
    {
        _server.UnplugAckDelay = TimeSpan.FromMilliseconds(300);
        await using var qmp = await ConnectAsync();
        var slot = new HotplugSlot("pcie.1", "pcie.1", "0x0", 5);
        var disk = Path.Combine(_dir, "disk.img");
        File.WriteAllBytes(disk, new byte[4096]);

        await qmp.ExecuteAsync("blockdev-add", HotplugCommands.BlockdevAdd(new BlockDeviceSpec("blk0", disk)), CancellationToken.None);
        await qmp.ExecuteAsync("device_add", HotplugCommands.BlockDeviceAdd("blk0", slot), CancellationToken.None);
        var started = DateTime.UtcNow;
        var (_, deleted) = await qmp.ExecuteAndWaitEventAsync("device_del", new JsonObject { ["id"] = "blk0" },
            e => e.Name == "DEVICE_DELETED" && e.DataString("device") == "blk0", TimeSpan.FromSeconds(5), CancellationToken.None);
        await qmp.ExecuteAsync("blockdev-del", new JsonObject { ["node-name"] = "blk0" }, CancellationToken.None);
        await qmp.ExecuteAsync("netdev_add", HotplugCommands.NetdevAdd(new NetDeviceSpec("nic0", "tap0", "52:54:00:12:34:56")), CancellationToken.None);
        await qmp.ExecuteAsync("device_add", HotplugCommands.NetDeviceAdd(new NetDeviceSpec("nic0", "tap0", "52:54:00:12:34:56"), slot), CancellationToken.None);

        Assert.Equal("blk0", deleted.DataString("device"));
        Assert.True(DateTime.UtcNow - started >= TimeSpan.FromMilliseconds(250));
        Assert.Empty(_server.Violations);
    }

    [Fact]
    public async Task The_server_really_rejects_what_StratoVirt_rejects()
    {
        // Guard against a lenient double: the same server refuses unknown keys and numeric ids.
        await using var qmp = await ConnectAsync();

        var e = await Assert.ThrowsAsync<QmpErrorException>(() =>
            qmp.ExecuteAsync("qmp_capabilities", new JsonObject { ["enable"] = new JsonArray() }, CancellationToken.None));
        var e2 = await Assert.ThrowsAsync<QmpErrorException>(() =>
            qmp.ExecuteAsync("device_add", new JsonObject { ["id"] = "x", ["driver"] = "virtio-blk-pci", ["bogus"] = 1 }, CancellationToken.None));

        Assert.Equal("GenericError", e.ErrorClass);
        Assert.Contains("unknown field 'bogus'", e2.Message);
        Assert.Equal(2, _server.Violations.Count);
    }

    [Fact]
    public async Task Unknown_command_maps_to_Unimplemented_and_names_the_socket()
    {
        await using var qmp = await ConnectAsync();

        var e = await Assert.ThrowsAsync<QmpErrorException>(() => qmp.ExecuteAsync("query-cpus-fast", null, CancellationToken.None));

        Assert.Equal(IsolaErrorCode.Unimplemented, e.Code);
        Assert.Contains(_server.Path, e.Message);
    }

    [Fact]
    public async Task A_command_without_reply_fails_with_DeadlineExceeded_and_the_next_one_still_works()
    {
        _server.Unanswered.Add("system_powerdown");
        await using var qmp = await ConnectAsync();

        var e = await Assert.ThrowsAsync<IsolaException>(() => qmp.ExecuteAsync("system_powerdown", null, CancellationToken.None, TimeSpan.FromMilliseconds(300)));
        // The timed-out command's reply may still come, so that connection is given up; the next command goes on a new one.
        await using var again = await qmp.ConnectAgainAsync(CancellationToken.None);
        var after = await again.ExecuteAsync("query-status", null, CancellationToken.None, TimeSpan.FromSeconds(5));

        Assert.Equal(IsolaErrorCode.DeadlineExceeded, e.Code);
        Assert.Contains("system_powerdown", e.Message);
        Assert.Equal("running", after!["status"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_dead_socket_fails_pending_commands_with_Unavailable()
    {
        _server.Unanswered.Add("system_powerdown");
        await using var qmp = await ConnectAsync(TimeSpan.FromSeconds(10));

        var pending = qmp.ExecuteAsync("system_powerdown", null, CancellationToken.None);
        await Task.Delay(100);
        _server.Crash();
        var e = await Assert.ThrowsAsync<IsolaException>(() => pending);
        var later = await Assert.ThrowsAsync<IsolaException>(() => qmp.ExecuteAsync("query-status", null, CancellationToken.None));

        Assert.Equal(IsolaErrorCode.Unavailable, e.Code);
        Assert.Equal(IsolaErrorCode.Unavailable, later.Code);
        Assert.False(qmp.IsConnected);
    }
}
