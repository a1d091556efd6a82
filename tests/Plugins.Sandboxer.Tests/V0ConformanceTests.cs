using System.Text.Json.Nodes;
using Isola.Controllers;
using Isola.Plugins.Sandboxer.Tests.Kuasar;
using Isola.SandboxApi;
using Isola.SandboxApi.Cri;
using Isola.SandboxApi.V0;
using PrepareRequest = Isola.SandboxApi.V0.PrepareRequest;
using V0Wire = Isola.SandboxApi.V0;

namespace Isola.Plugins.Sandboxer.Tests;

/// <summary>What the controller puts on the wire for Kuasar 0.x (sandboxer=1, sandbox_id=2, Prepare/Purge).</summary>
public sealed class V0ConformanceTests : IAsyncLifetime
{
    private FakeSandboxerServer _server = null!;
    private ISandboxController _controller = null!;

    public async Task InitializeAsync()
    {
        _server = await FakeSandboxerServer.StartNewAsync(FakeKind.KuasarV0);
        _controller = ControllerHarness.Create(_server.SocketPath, api: "v0");
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task Create_and_Start_use_the_old_numbering_and_keep_the_bare_task_address()
    {
        var id = ControllerHarness.NewId();
        var sandbox = ControllerHarness.Sandbox(id, new SandboxSpec { Id = id, Network = "/var/run/netns/n1", Hostname = "h0" });

        await _controller.CreateAsync(sandbox, CancellationToken.None);
        var started = await _controller.StartAsync(sandbox, CancellationToken.None);

        var create = _server.State.Last<ControllerCreateRequest>();
        Assert.Equal("vmm", create.Sandboxer);
        Assert.Equal(id, create.SandboxId);
        Assert.Equal("/var/run/netns/n1", create.NetnsPath);
        Assert.Equal(TypeUrls.PodSandboxConfig, create.Options.TypeUrl);
        Assert.Equal("h0", PodSandboxConfig.Parser.ParseFrom(create.Options.Value).Hostname);
        Assert.Equal(id, _server.State.Last<ControllerStartRequest>().SandboxId);
        Assert.Equal("vsock://3:1024", started.TaskAddress);
        Assert.Equal(2u, started.TaskApiVersion);

        var status = await _controller.StatusAsync(sandbox, verbose: true, CancellationToken.None);
        Assert.True(status.Ready);
        Assert.Equal("vsock://3:1024", status.TaskAddress);
        Assert.True(_server.State.Last<ControllerStatusRequest>().Verbose);
        Assert.Equal("x86", (await _controller.PlatformAsync(sandbox, CancellationToken.None)).Architecture);
    }

    [Fact]
    public async Task Prepare_Purge_and_UpdateResources_are_the_native_calls()
    {
        var sandbox = ControllerHarness.Sandbox(ControllerHarness.NewId());
        await _controller.CreateAsync(sandbox, CancellationToken.None);
        await _controller.StartAsync(sandbox, CancellationToken.None);

        var prepared = await _controller.PrepareAsync(sandbox, V1ConformanceTests.Prepare("c1", """{"process":{"args":["sh"]}}"""), CancellationToken.None);
        var prepare = _server.State.Last<V0Wire.PrepareRequest>();
        Assert.Equal(("vmm", sandbox.Id, "c1", ""), (prepare.Sandboxer, prepare.SandboxId, prepare.ContainerId, prepare.ExecId));
        var json = JsonNode.Parse(prepare.Spec.Value.ToStringUtf8())!;
        Assert.Equal("1.1.0", (string?)json["ociVersion"]);
        Assert.Equal("/", (string?)json["process"]!["cwd"]);
        Assert.Equal("/rootfs/c1", prepare.Rootfs.Single().Source);
        Assert.Equal("/logs/c1.out", prepare.Stdout);
        Assert.Equal($"{_server.Directory}/kuasar-vmm/{sandbox.Id}/shared/c1", prepared.Bundle);

        await _controller.PrepareAsync(sandbox, V1ConformanceTests.Prepare("c1", """{"args":["ls"]}""") with { ExecId = "e1" }, CancellationToken.None);
        Assert.Equal("e1", _server.State.Last<V0Wire.PrepareRequest>().ExecId);
        Assert.Empty(_server.State.Last<V0Wire.PrepareRequest>().Rootfs);

        await _controller.UpdateResourcesAsync(sandbox, new Isola.Controllers.UpdateResourcesRequest("c1", new LinuxResources { PidsLimit = 64 }), CancellationToken.None);
        var update = _server.State.Last<V0Wire.UpdateResourcesRequest>();
        Assert.Equal(TypeUrls.OciLinuxResources, update.Resources.TypeUrl);
        Assert.Equal(64, (int?)JsonNode.Parse(update.Resources.Value.ToStringUtf8())!["pids"]!["limit"]);

        await _controller.PurgeAsync(sandbox, new Isola.Controllers.PurgeRequest("c1"), CancellationToken.None);
        Assert.Equal(("vmm", sandbox.Id, "c1"), (_server.State.Last<V0Wire.PurgeRequest>().Sandboxer, _server.State.Last<V0Wire.PurgeRequest>().SandboxId, _server.State.Last<V0Wire.PurgeRequest>().ContainerId));
        Assert.Empty(_server.State.Get(sandbox.Id.Value).Containers);
    }

    [Fact]
    public async Task Stop_sends_its_timeout_and_Wait_Shutdown_complete_idempotently()
    {
        var sandbox = ControllerHarness.Sandbox(ControllerHarness.NewId());
        await _controller.CreateAsync(sandbox, CancellationToken.None);
        await _controller.StartAsync(sandbox, CancellationToken.None);
        var wait = _controller.WaitAsync(sandbox, CancellationToken.None);

        await _controller.StopAsync(sandbox, TimeSpan.FromSeconds(10), CancellationToken.None);
        Assert.Equal(10u, _server.State.Last<ControllerStopRequest>().TimeoutSecs);
        Assert.Equal(137u, (await wait.WaitAsync(TimeSpan.FromSeconds(10))).Code);
        await _controller.ShutdownAsync(sandbox, CancellationToken.None);
        await _controller.ShutdownAsync(sandbox, CancellationToken.None);
        await _controller.StopAsync(sandbox, TimeSpan.Zero, CancellationToken.None);
        Assert.False(_server.State.Sandboxes.ContainsKey(sandbox.Id.Value));
    }
}
