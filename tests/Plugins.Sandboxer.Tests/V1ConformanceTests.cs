using System.Text.Json.Nodes;
using Isola.Controllers;
using Isola.Plugins.Sandboxer.Tasks;
using Isola.Plugins.Sandboxer.Tests.Kuasar;
using Isola.SandboxApi;
using Isola.SandboxApi.Cri;
using Isola.SandboxApi.Tasks;
using Isola.SandboxApi.V1;

namespace Isola.Plugins.Sandboxer.Tests;

/// <summary>What the controller puts on the wire for Kuasar 1.x, field by field, against the documented double.</summary>
public sealed class V1ConformanceTests : IAsyncLifetime
{
    private FakeSandboxerServer _server = null!;
    private ISandboxController _controller = null!;

    public async Task InitializeAsync()
    {
        _server = await FakeSandboxerServer.StartNewAsync(FakeKind.KuasarV1);
        _controller = ControllerHarness.Create("unix://" + _server.SocketPath, api: "v1");
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task Create_sends_ids_sandboxer_packed_PodSandboxConfig_netns_and_metadata()
    {
        var id = ControllerHarness.NewId();
        var spec = new SandboxSpec
        {
            Id = id,
            Hostname = "web-0",
            Network = "/var/run/netns/cni-1",
            CgroupParent = "/kubepods/pod1",
            DnsServers = ["10.0.0.10"],
            Resources = new LinuxResources { CpuQuota = 200000, CpuPeriod = 100000, MemoryLimitBytes = 512L << 20 },
            Labels = new Dictionary<string, string> { ["app"] = "web" },
            Annotations = new Dictionary<string, string> { ["note"] = "x" },
        };

        await _controller.CreateAsync(ControllerHarness.Sandbox(id, spec), CancellationToken.None);

        var sent = _server.State.Last<ControllerCreateRequest>();
        Assert.Equal(id, sent.SandboxId);
        Assert.Equal("vmm", sent.Sandboxer);
        Assert.Equal("/var/run/netns/cni-1", sent.NetnsPath);
        Assert.Equal("runtime.v1.PodSandboxConfig", sent.Options.TypeUrl);
        var config = PodSandboxConfig.Parser.ParseFrom(sent.Options.Value);
        Assert.Equal("web-0", config.Hostname);
        Assert.Equal("pod-" + id, config.Metadata.Name);
        Assert.Equal(id, config.Metadata.Uid);
        Assert.Equal(["10.0.0.10"], config.DnsConfig.Servers);
        Assert.Equal("/kubepods/pod1", config.Linux.CgroupParent);
        Assert.Equal(200000, config.Linux.Resources.CpuQuota);
        Assert.Equal(100000, config.Linux.Resources.CpuPeriod);
        Assert.Equal(512L << 20, config.Linux.Resources.MemoryLimitInBytes);
        Assert.Equal("web", config.Labels["app"]);
        Assert.Equal(id, sent.Sandbox.SandboxId);
        Assert.Equal("vmm", sent.Sandbox.Sandboxer);
        Assert.Equal("kuasar-vmm", sent.Sandbox.Runtime.Name);
        Assert.Equal("x", sent.Annotations["note"]);
        // The double decoded the same config Kuasar would.
        Assert.Equal("web-0", _server.State.Get(id).Config!.Hostname);
    }

    [Fact]
    public async Task Lifecycle_maps_Start_Status_Platform_Stop_Wait_Shutdown_and_is_idempotent()
    {
        var sandbox = ControllerHarness.Sandbox(ControllerHarness.NewId());
        await _controller.CreateAsync(sandbox, CancellationToken.None);

        var started = await _controller.StartAsync(sandbox, CancellationToken.None);
        Assert.Equal(KuasarState.VmmPid, started.Pid);
        Assert.Equal("ttrpc+vsock://3:1024", started.TaskAddress);
        Assert.Equal(2u, started.TaskApiVersion);

        var status = await _controller.StatusAsync(sandbox, verbose: false, CancellationToken.None);
        Assert.True(status.Ready);
        Assert.Equal("ttrpc+vsock://3:1024", status.TaskAddress);

        var platform = await _controller.PlatformAsync(sandbox, CancellationToken.None);
        Assert.Equal(new PlatformInfo("linux", "x86", ""), platform);

        var wait = _controller.WaitAsync(sandbox, CancellationToken.None);
        Assert.False(wait.IsCompleted);
        await _controller.StopAsync(sandbox, TimeSpan.FromMilliseconds(2500), CancellationToken.None);
        Assert.Equal(3u, _server.State.Last<ControllerStopRequest>().TimeoutSecs);
        Assert.Equal("vmm", _server.State.Last<ControllerStopRequest>().Sandboxer);
        var exit = await wait.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(137u, exit.Code);

        Assert.False((await _controller.StatusAsync(sandbox, false, CancellationToken.None)).Ready);
        await _controller.ShutdownAsync(sandbox, CancellationToken.None);
        await _controller.ShutdownAsync(sandbox, CancellationToken.None);
        await _controller.StopAsync(sandbox, TimeSpan.Zero, CancellationToken.None);
        var gone = await Assert.ThrowsAsync<IsolaException>(() => _controller.StatusAsync(sandbox, false, CancellationToken.None));
        Assert.Equal(IsolaErrorCode.NotFound, gone.Code);
        Assert.Contains(sandbox.Id.Value, gone.Message);
        Assert.Contains(_server.SocketPath, gone.Message);
    }

    [Fact]
    public async Task Verbose_status_asks_Metrics()
    {
        var sandbox = await StartedSandboxAsync();
        var status = await _controller.StatusAsync(sandbox, verbose: true, CancellationToken.None);
        Assert.Equal(sandbox.Id, _server.State.Last<ControllerMetricsRequest>().SandboxId);
        Assert.Equal("", status.Info["metrics.type"]);
    }

    [Fact]
    public async Task Prepare_sends_the_whole_task_list_in_Update_with_Kuasar_required_fields()
    {
        var sandbox = await StartedSandboxAsync();
        // A spec without ociVersion or process.cwd: Kuasar would reject it, so the controller must fill them.
        var spec = """{"process":{"args":["sh"],"consoleSize":{"height":1,"width":2}},"root":{"path":"rootfs"}}""";

        var first = await _controller.PrepareAsync(sandbox, Prepare("c1", spec), CancellationToken.None);
        await _controller.PrepareAsync(sandbox, Prepare("c2", spec), CancellationToken.None);

        var update = _server.State.Last<ControllerUpdateRequest>();
        Assert.Equal(sandbox.Id, update.SandboxId);
        Assert.Equal("vmm", update.Sandboxer);
        Assert.Equal(["extensions.tasks"], update.Fields);
        Assert.Equal(sandbox.Id, update.Sandbox.SandboxId);
        Assert.Equal(TypeUrls.Tasks, update.Sandbox.Extensions["tasks"].TypeUrl);
        var sent = TaskResources.Parse(update.Sandbox.Extensions["tasks"].Value.Span);
        Assert.Equal(["c1", "c2"], sent.Tasks.Select(t => t.TaskId));
        var c1 = sent.Find("c1")!;
        Assert.Equal("1.1.0", (string?)c1.Spec!["ociVersion"]);
        Assert.Equal("/", (string?)c1.Spec["process"]!["cwd"]);
        Assert.Equal(2, (int?)c1.Spec["process"]!["console_size"]!["width"]);
        Assert.Equal("bind", c1.Rootfs.Single().Type);
        Assert.Equal("/rootfs/c1", c1.Rootfs.Single().Source);
        Assert.Equal("", c1.Rootfs.Single().Destination);
        Assert.Equal("/logs/c1.out", c1.Stdout);
        Assert.Equal(["c1", "c2"], _server.State.Get(sandbox.Id.Value).Tasks.Tasks.Select(t => t.TaskId));

        // Kuasar ignores Task.Create's bundle; the guest reads /run/kuasar/state/<id>.
        Assert.Equal("/run/kuasar/state/c1", first.Bundle);
        Assert.Equal("/rootfs/c1", first.Rootfs.Single().Source);
        Assert.Equal(2, TaskListStore.Load(sandbox).Tasks.Count);
    }

    [Fact]
    public async Task Exec_is_added_in_a_later_Update_and_Purge_removes_it_then_the_container()
    {
        var sandbox = await StartedSandboxAsync();
        await _controller.PrepareAsync(sandbox, Prepare("c1", """{"ociVersion":"1.0.2","process":{"cwd":"/w","args":["sh"]}}"""), CancellationToken.None);
        await _controller.PrepareAsync(sandbox, Prepare("c1", """{"args":["ls"]}""") with { ExecId = "e1" }, CancellationToken.None);

        var withExec = _server.State.Get(sandbox.Id.Value).Tasks.Find("c1")!;
        Assert.Equal("1.0.2", (string?)withExec.Spec!["ociVersion"]);
        Assert.Equal("/w", (string?)withExec.Spec["process"]!["cwd"]);
        Assert.Equal("e1", withExec.Processes.Single().ExecId);
        Assert.Equal("/", (string?)withExec.Processes.Single().Spec!["cwd"]);

        await _controller.PurgeAsync(sandbox, new PurgeRequest("c1", "e1"), CancellationToken.None);
        Assert.Empty(_server.State.Get(sandbox.Id.Value).Tasks.Find("c1")!.Processes);
        await _controller.PurgeAsync(sandbox, new PurgeRequest("c1"), CancellationToken.None);
        Assert.Empty(_server.State.Get(sandbox.Id.Value).Tasks.Tasks);
        Assert.False(sandbox.ControllerState.ContainsKey(TaskListStore.Key));

        var updates = _server.State.All<ControllerUpdateRequest>().Count;
        await _controller.PurgeAsync(sandbox, new PurgeRequest("c1"), CancellationToken.None);
        Assert.Equal(updates, _server.State.All<ControllerUpdateRequest>().Count);
    }

    [Fact]
    public async Task Exec_for_an_unknown_container_fails_naming_it_and_sends_nothing()
    {
        var sandbox = await StartedSandboxAsync();
        var e = await Assert.ThrowsAsync<IsolaException>(() =>
            _controller.PrepareAsync(sandbox, Prepare("nope", """{"args":["ls"]}""") with { ExecId = "e1" }, CancellationToken.None));
        Assert.Equal(IsolaErrorCode.NotFound, e.Code);
        Assert.Contains("nope", e.Message);
        Assert.Empty(_server.State.All<ControllerUpdateRequest>());
    }

    [Fact]
    public async Task A_refused_Update_leaves_the_recorded_task_list_unchanged()
    {
        var sandbox = await StartedSandboxAsync();
        await _controller.PrepareAsync(sandbox, Prepare("c1", "{}"), CancellationToken.None);
        var before = sandbox.ControllerState[TaskListStore.Key]!.ToJsonString();

        _server.State.FailNextRegistration = Grpc.Core.StatusCode.ResourceExhausted;
        var e = await Assert.ThrowsAsync<IsolaException>(() => _controller.PrepareAsync(sandbox, Prepare("c2", "{}"), CancellationToken.None));

        Assert.Equal(IsolaErrorCode.ResourceExhausted, e.Code);
        Assert.Contains("c2", e.Message);
        Assert.Equal(before, sandbox.ControllerState[TaskListStore.Key]!.ToJsonString());
        Assert.Equal(["c1"], _server.State.Get(sandbox.Id.Value).Tasks.Tasks.Select(t => t.TaskId));
    }

    [Fact]
    public async Task UpdateResources_rewrites_the_containers_spec_in_the_list()
    {
        var sandbox = await StartedSandboxAsync();
        await _controller.PrepareAsync(sandbox, Prepare("c1", "{}"), CancellationToken.None);
        await _controller.UpdateResourcesAsync(sandbox,
            new UpdateResourcesRequest("c1", new LinuxResources { MemoryLimitBytes = 1 << 30, CpuShares = 512 }), CancellationToken.None);

        var spec = _server.State.Get(sandbox.Id.Value).Tasks.Find("c1")!.Spec!;
        Assert.Equal(1L << 30, (long?)spec["linux"]!["resources"]!["memory"]!["limit"]);
        Assert.Equal(512UL, (ulong?)spec["linux"]!["resources"]!["cpu"]!["shares"]);

        var whole = await Assert.ThrowsAsync<IsolaException>(() =>
            _controller.UpdateResourcesAsync(sandbox, new UpdateResourcesRequest(null, new LinuxResources()), CancellationToken.None));
        Assert.Equal(IsolaErrorCode.Unimplemented, whole.Code);
    }

    [Fact]
    public async Task After_a_host_restart_the_task_list_is_intact_and_Wait_rearms()
    {
        var sandbox = await StartedSandboxAsync();
        await _controller.PrepareAsync(sandbox, Prepare("c1", "{}"), CancellationToken.None);

        // A new host process: a new plugin instance, the persisted controller data handed back.
        var restarted = ControllerHarness.Create("unix://" + _server.SocketPath, api: "auto");
        var reloaded = ControllerHarness.Reloaded(sandbox);
        var wait = restarted.WaitAsync(reloaded, CancellationToken.None);
        await restarted.PrepareAsync(reloaded, Prepare("c2", "{}"), CancellationToken.None);

        Assert.Equal(["c1", "c2"], _server.State.Get(sandbox.Id.Value).Tasks.Tasks.Select(t => t.TaskId));
        Assert.False(wait.IsCompleted);
        await restarted.StopAsync(reloaded, TimeSpan.Zero, CancellationToken.None);
        Assert.Equal(137u, (await wait.WaitAsync(TimeSpan.FromSeconds(10))).Code);
        Assert.Single(_server.State.All<ControllerCreateRequest>());
    }

    [Fact]
    public async Task The_task_list_is_kept_as_structured_state_and_one_saved_as_text_by_an_older_plugin_is_read_and_moved()
    {
        var sandbox = await StartedSandboxAsync();
        await _controller.PrepareAsync(sandbox, Prepare("c1", "{}"), CancellationToken.None);

        Assert.False(sandbox.ControllerData.ContainsKey(TaskListStore.Key));
        Assert.Equal("c1", (string?)sandbox.ControllerState[TaskListStore.Key]!["tasks"]![0]!["task_id"]);

        // A record from before: the list as JSON text in ControllerData, no ControllerState.
        var older = ControllerHarness.Sandbox(sandbox.Id, data: new Dictionary<string, string>(sandbox.ControllerData)
        {
            [TaskListStore.Key] = sandbox.ControllerState[TaskListStore.Key]!.ToJsonString(),
        });
        await _controller.PrepareAsync(older, Prepare("c2", "{}"), CancellationToken.None);

        Assert.Equal(["c1", "c2"], _server.State.Get(sandbox.Id.Value).Tasks.Tasks.Select(t => t.TaskId));
        Assert.False(older.ControllerData.ContainsKey(TaskListStore.Key));
        Assert.Equal(2, TaskListStore.Load(older).Tasks.Count);
    }

    private async Task<SandboxContext> StartedSandboxAsync()
    {
        var sandbox = ControllerHarness.Sandbox(ControllerHarness.NewId());
        await _controller.CreateAsync(sandbox, CancellationToken.None);
        await _controller.StartAsync(sandbox, CancellationToken.None);
        return sandbox;
    }

    internal static PrepareRequest Prepare(string containerId, string specJson) => new()
    {
        ContainerId = containerId,
        Container = new ContainerSpec { Id = containerId, Rootfs = "/rootfs/" + containerId, Args = ["sh"] },
        OciSpec = JsonNode.Parse(specJson)!.AsObject(),
        Stdio = new StdioSpec("", $"/logs/{containerId}.out", $"/logs/{containerId}.err"),
    };
}
