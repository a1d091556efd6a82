using System.Net.Sockets;
using Isola.Hosting;
using Isola.Plugins.Sandboxer.Tests.Kuasar;
using Isola.SandboxApi.V1;
using Microsoft.Extensions.Configuration;

namespace Isola.Plugins.Sandboxer.Tests;

/// <summary>The sandboxer controller inside a real IsolaHost: the state machine sees what the wire does.</summary>
public sealed class HostLevelTests : IAsyncLifetime
{
    private FakeSandboxerServer _kuasar = null!;
    private string _root = null!;

    public async Task InitializeAsync()
    {
        _kuasar = await FakeSandboxerServer.StartNewAsync(FakeKind.KuasarV1);
        _root = Path.Combine(_kuasar.Directory, "root");
    }

    public async Task DisposeAsync() => await _kuasar.DisposeAsync();

    [Fact]
    public async Task Sandboxer_going_away_makes_the_sandbox_Pending_and_coming_back_Ready_without_recreate()
    {
        await using var host = await StartHostAsync();
        var sandbox = await host.Sandboxes.RunAsync(new SandboxSpec { Runtime = "kuasar-vmm" });
        Assert.Equal("ttrpc+vsock://3:1024", sandbox.Info.TaskAddress);

        await _kuasar.StopAsync();
        await WaitForStateAsync(host, sandbox.Id.Value, SandboxState.Pending);
        await _kuasar.StartAsync();
        await WaitForStateAsync(host, sandbox.Id.Value, SandboxState.Ready);

        Assert.Single(_kuasar.State.All<ControllerCreateRequest>());
        Assert.Single(_kuasar.State.All<ControllerStartRequest>());
        await sandbox.RemoveAsync();
        Assert.Empty(_kuasar.State.Sandboxes);
    }

    [Fact]
    public async Task After_a_host_restart_Wait_is_rearmed_and_sees_the_exit()
    {
        string id;
        await using (var first = await StartHostAsync())
        {
            id = (await first.Sandboxes.RunAsync(new SandboxSpec { Runtime = "kuasar-vmm" })).Id.Value;
        }

        var waitsBefore = _kuasar.State.All<ControllerWaitRequest>().Count;
        await using var second = await StartHostAsync();
        await WaitUntilAsync(() => _kuasar.State.All<ControllerWaitRequest>().Count > waitsBefore, "a re-armed Wait");

        _kuasar.State.Get(id).ForceStop();
        var exited = await WaitForStateAsync(second, id, SandboxState.Stopped);
        Assert.Equal(137u, exited.Exit!.Code);
        Assert.Single(_kuasar.State.All<ControllerCreateRequest>());
        await (await second.Sandboxes.GetAsync(id)).RemoveAsync();
    }

    [Fact]
    public async Task A_hung_sandboxer_fails_Run_with_DeadlineExceeded_and_keeps_the_record_for_cleanup()
    {
        await using var silent = await FakeSandboxerServer.StartNewAsync(FakeKind.Silent);
        await using var host = await StartHostAsync(silent.SocketPath, timeout: "00:00:01");

        var e = await Assert.ThrowsAsync<IsolaException>(() => host.Sandboxes.RunAsync(new SandboxSpec { Runtime = "kuasar-vmm" }));

        Assert.Equal(IsolaErrorCode.DeadlineExceeded, e.Code);
        Assert.Contains(silent.SocketPath, e.Message);
        // The rollback's Shutdown hangs too, so the host cannot know the sandboxer released it: the record stays,
        // Removing, for a later remove, instead of being forgotten with a VM possibly left behind.
        Assert.Equal(SandboxState.Removing, (await host.Sandboxes.ListAsync()).Single().State);
    }

    [Theory]
    [InlineData("missing")]
    [InlineData("refusing")]
    public async Task A_run_against_an_unreachable_sandboxer_fails_naming_it_and_leaves_nothing_behind(string how)
    {
        var socket = Path.Combine(_kuasar.Directory, "down.sock");
        using var refusing = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        if (how == "refusing")
        {
            // Bound but not listening: connect(2) gets ECONNREFUSED, as from a sandboxer that died leaving its socket.
            refusing.Bind(new UnixDomainSocketEndPoint(socket));
        }

        await using (var host = await StartHostAsync(socket))
        {
            var e = await Assert.ThrowsAsync<IsolaException>(() => host.Sandboxes.RunAsync(new SandboxSpec { Name = "web" }));

            Assert.Equal(IsolaErrorCode.Unavailable, e.Code);
            Assert.Contains(socket, e.Message);
            Assert.DoesNotContain('\n', e.Message);
            Assert.DoesNotContain("localhost", e.Message);
            // Nothing reached the sandboxer, so the rollback had nothing to wait for: no record holds the name.
            Assert.Empty(await host.Sandboxes.ListAsync());
            Assert.DoesNotContain(Directory.EnumerateDirectories(_root), d => !Path.GetFileName(d).StartsWith('.'));
        }

        // The name is free at once, without the sandboxer at that socket ever coming back.
        await using var live = await StartHostAsync();
        var sandbox = await live.Sandboxes.RunAsync(new SandboxSpec { Name = "web" });
        Assert.Equal("web", sandbox.Info.Name);
        await sandbox.RemoveAsync();
    }

    [Fact]
    public async Task A_create_reset_after_the_sandboxer_acted_is_still_shut_down_remotely()
    {
        _kuasar.State.ResetAfterNextCreate = true;
        await using var host = await StartHostAsync();

        await Assert.ThrowsAsync<IsolaException>(() => host.Sandboxes.RunAsync(new SandboxSpec { Name = "web" }));

        // The connection was made and the Create was received: only the sandboxer can say what it did, so the
        // rollback asks it to shut the sandbox down instead of assuming nothing happened.
        var created = Assert.Single(_kuasar.State.All<ControllerCreateRequest>()).SandboxId;
        Assert.Contains(_kuasar.State.All<ControllerShutdownRequest>(), r => r.SandboxId == created);
        Assert.Empty(_kuasar.State.Sandboxes);
        Assert.Empty(await host.Sandboxes.ListAsync());
    }

    private Task<IsolaHost> StartHostAsync(string? socket = null, string? timeout = null)
    {
        var builder = IsolaHost.CreateBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Isola:Root"] = _root,
            ["Isola:PluginsDir"] = Directory.CreateDirectory(Path.Combine(_kuasar.Directory, "no-plugins")).FullName,
            ["Isola:DefaultRuntime"] = "kuasar-vmm",
            ["Isola:Timeouts:WaitRetryMax"] = "00:00:01",
            ["Isola:Runtimes:kuasar-vmm:Controller"] = "sandboxer",
            ["Isola:Runtimes:kuasar-vmm:Options:Address"] = "unix://" + (socket ?? _kuasar.SocketPath),
            ["Isola:Runtimes:kuasar-vmm:Options:Sandboxer"] = "vmm",
            ["Isola:Runtimes:kuasar-vmm:Options:Timeout"] = timeout,
        });
        builder.AddPlugin(new SandboxerPlugin());
        return builder.StartAsync();
    }

    private static async Task<SandboxInfo> WaitForStateAsync(IsolaHost host, string id, SandboxState state)
    {
        SandboxInfo? info = null;
        await WaitUntilAsync(async () =>
        {
            info = (await host.Sandboxes.ListAsync()).Single(s => s.Id == id);
            return info.State == state;
        }, $"sandbox {id} to become {state}");
        return info!;
    }

    private static Task WaitUntilAsync(Func<bool> condition, string what) => WaitUntilAsync(() => Task.FromResult(condition()), what);

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, string what)
    {
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < until, $"timed out waiting for {what}");
            await Task.Delay(50);
        }
    }
}
