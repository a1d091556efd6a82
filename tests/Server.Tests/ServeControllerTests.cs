using System.Text.Json.Nodes;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Isola.SandboxApi;
using Isola.SandboxApi.Cri;
using Isola.SandboxApi.Tasks;
using Isola.SandboxApi.V1;

namespace Isola.Server.Tests;

/// <summary>The v1 Controller that `isola serve` offers, driven with the generated client as containerd would.</summary>
public sealed class ServeControllerTests : IAsyncLifetime
{
    private ServeFixture _f = null!;

    public async Task InitializeAsync() => _f = await ServeFixture.StartAsync();

    public async Task DisposeAsync() => await _f.DisposeAsync();

    [Fact]
    public async Task Create_maps_the_PodSandboxConfig_and_the_sandboxer_field_selects_the_runtime()
    {
        var id = NewId();
        var config = new PodSandboxConfig
        {
            Hostname = "web-0",
            DnsConfig = new DNSConfig { Servers = { "10.0.0.10" } },
            Labels = { ["app"] = "web" },
            Linux = new LinuxPodSandboxConfig { CgroupParent = "/pods/p1", Resources = new LinuxContainerResources { MemoryLimitInBytes = 1 << 28 } },
        };

        var created = await _f.Client.CreateAsync(new ControllerCreateRequest
        {
            SandboxId = id,
            Sandboxer = "kuasar",
            Options = new Any { TypeUrl = TypeUrls.PodSandboxConfig, Value = config.ToByteString() },
        });

        Assert.Equal(id, created.SandboxId);
        var info = (await _f.Host.Sandboxes.GetAsync(id)).Info;
        Assert.Equal("kuasar", info.Runtime);
        Assert.Equal(SandboxState.Created, info.State);
        Assert.Equal("web-0", info.Spec.Hostname);
        Assert.Equal(["10.0.0.10"], info.Spec.DnsServers);
        Assert.Equal("/pods/p1", info.Spec.CgroupParent);
        Assert.Equal(1L << 28, info.Spec.Resources!.MemoryLimitBytes);
        Assert.Equal("web", info.Spec.Labels["app"]);
        // The hop behind: the host's sandboxer controller re-sent it to Kuasar.
        Assert.Equal("web-0", _f.Kuasar.State.Get(id).Config!.Hostname);
    }

    [Fact]
    public async Task The_host_network_travels_as_namespace_mode_NODE_in_both_hops()
    {
        var id = NewId();
        var config = new PodSandboxConfig
        {
            Linux = new LinuxPodSandboxConfig
            {
                SecurityContext = new LinuxSandboxSecurityContext { NamespaceOptions = new NamespaceOption { Network = NamespaceMode.Node } },
            },
        };

        await _f.Client.CreateAsync(new ControllerCreateRequest
        {
            SandboxId = id,
            Options = new Any { TypeUrl = TypeUrls.PodSandboxConfig, Value = config.ToByteString() },
        });

        Assert.Equal(SandboxSpec.HostNetwork, (await _f.Host.Sandboxes.GetAsync(id)).Info.Spec.Network);
        // The host's sandboxer controller encodes it the same way for the next sandboxer, with no netns path.
        Assert.Equal(NamespaceMode.Node, _f.Kuasar.State.Get(id).Config!.Linux.SecurityContext.NamespaceOptions.Network);
        Assert.Equal("", _f.Kuasar.State.Last<ControllerCreateRequest>().NetnsPath);
    }

    [Fact]
    public async Task A_netns_path_together_with_the_host_network_is_refused_naming_both()
    {
        var id = NewId();
        var config = new PodSandboxConfig
        {
            Linux = new LinuxPodSandboxConfig
            {
                SecurityContext = new LinuxSandboxSecurityContext { NamespaceOptions = new NamespaceOption { Network = NamespaceMode.Node } },
            },
        };

        var e = await Assert.ThrowsAsync<RpcException>(() => _f.Client.CreateAsync(new ControllerCreateRequest
        {
            SandboxId = id,
            NetnsPath = "/var/run/netns/x",
            Options = new Any { TypeUrl = TypeUrls.PodSandboxConfig, Value = config.ToByteString() },
        }).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Contains("/var/run/netns/x", e.Status.Detail);
        Assert.Contains(id, e.Status.Detail);
        Assert.Empty(await _f.Host.Sandboxes.ListAsync());
    }

    [Fact]
    public async Task Lifecycle_Start_Status_Metrics_Stop_Wait_Shutdown_with_NotFound_as_done()
    {
        var id = NewId();
        await _f.Client.CreateAsync(new ControllerCreateRequest { SandboxId = id });

        var started = await _f.Client.StartAsync(new ControllerStartRequest { SandboxId = id });
        Assert.Equal("ttrpc+vsock://3:1024", started.Address);
        Assert.Equal(2u, started.Version);
        Assert.Equal((uint)Environment.ProcessId, started.Pid);
        Assert.Equal(Path.Combine(_f.BundleRoot, id), started.Labels["io.isola.sandbox-api/bundle-root"]);

        var status = await _f.Client.StatusAsync(new ControllerStatusRequest { SandboxId = id, Verbose = true });
        Assert.Equal(SandboxStates.Ready, status.State);
        Assert.Equal("ttrpc+vsock://3:1024", status.Address);
        Assert.Equal("kuasar", status.Info["isola.runtime"]);
        Assert.Equal(id, (await _f.Client.MetricsAsync(new ControllerMetricsRequest { SandboxId = id })).Metrics.Id);
        Assert.Equal("x86", (await _f.Client.PlatformAsync(new ControllerPlatformRequest { SandboxId = id })).Platform.Architecture);

        using var wait = _f.Client.WaitAsync(new ControllerWaitRequest { SandboxId = id });
        await _f.Client.StopAsync(new ControllerStopRequest { SandboxId = id, TimeoutSecs = 1 });
        var exit = await wait.ResponseAsync.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(137u, exit.ExitStatus);
        Assert.Equal(SandboxStates.NotReady, (await _f.Client.StatusAsync(new ControllerStatusRequest { SandboxId = id })).State);

        await _f.Client.ShutdownAsync(new ControllerShutdownRequest { SandboxId = id });
        await _f.Client.ShutdownAsync(new ControllerShutdownRequest { SandboxId = id });
        await _f.Client.StopAsync(new ControllerStopRequest { SandboxId = id });
        var gone = await Assert.ThrowsAsync<RpcException>(() => _f.Client.StatusAsync(new ControllerStatusRequest { SandboxId = id }).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, gone.StatusCode);
        Assert.Contains(id, gone.Status.Detail);
        Assert.False(_f.Kuasar.State.Sandboxes.ContainsKey(id));
    }

    [Fact]
    public async Task Update_with_extensions_tasks_writes_and_removes_bundles()
    {
        var id = NewId();
        await _f.Client.CreateAsync(new ControllerCreateRequest { SandboxId = id });
        await _f.Client.StartAsync(new ControllerStartRequest { SandboxId = id });
        var list = new TaskResources();
        list.Tasks.Add(new TaskResource
        {
            TaskId = "c1",
            Spec = JsonNode.Parse("""{"ociVersion":"1.1.0","process":{"cwd":"/","args":["true"]},"linux":{"namespaces":[{"type":"network"},{"type":"pid"}]}}""")!.AsObject(),
        });

        await _f.Client.UpdateAsync(Update(id, list));
        var config = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(_f.BundleRoot, id, "c1", "config.json")))!;
        Assert.Equal("true", (string?)config["process"]!["args"]![0]);
        // The backing sandbox's pid is a live process (the double's "VMM" is this test process): the container joins
        // its network namespace, keeps its own pid namespace, and nests its cgroup under the sandbox's.
        var pid = Environment.ProcessId;
        Assert.Equal($"/proc/{pid}/ns/net", (string?)config["linux"]!["namespaces"]![0]!["path"]);
        Assert.Null(config["linux"]!["namespaces"]![1]!["path"]);
        Assert.True(config["linux"]!["cgroupsPath"] is null || ((string?)config["linux"]!["cgroupsPath"])!.EndsWith("/c1", StringComparison.Ordinal));

        list.Tasks.Clear();
        await _f.Client.UpdateAsync(Update(id, list));
        Assert.False(Directory.Exists(Path.Combine(_f.BundleRoot, id, "c1")));

        await _f.Client.UpdateAsync(new ControllerUpdateRequest { SandboxId = id, Fields = { "labels" } });
        await _f.Client.ShutdownAsync(new ControllerShutdownRequest { SandboxId = id });
        Assert.False(Directory.Exists(Path.Combine(_f.BundleRoot, id)));
    }

    [Fact]
    public async Task Bad_input_is_refused_with_one_line_naming_it()
    {
        var empty = await Assert.ThrowsAsync<RpcException>(() => _f.Client.CreateAsync(new ControllerCreateRequest()).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, empty.StatusCode);

        var traversal = await Assert.ThrowsAsync<RpcException>(() =>
            _f.Client.CreateAsync(new ControllerCreateRequest { SandboxId = "../etc" }).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, traversal.StatusCode);
        Assert.Contains("../etc", traversal.Status.Detail);

        var id = NewId();
        var unknown = await Assert.ThrowsAsync<RpcException>(() =>
            _f.Client.CreateAsync(new ControllerCreateRequest { SandboxId = id, Sandboxer = "nope" }).ResponseAsync);
        Assert.Contains("nope", unknown.Status.Detail);
        Assert.Empty(await _f.Host.Sandboxes.ListAsync());

        var notPod = await Assert.ThrowsAsync<RpcException>(() => _f.Client.CreateAsync(new ControllerCreateRequest
        {
            SandboxId = id,
            Options = new Any { TypeUrl = "example.Other", Value = ByteString.CopyFromUtf8("x") },
        }).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, notPod.StatusCode);

        await _f.Client.CreateAsync(new ControllerCreateRequest { SandboxId = id });
        var badTasks = new TaskResources();
        badTasks.Tasks.Add(new TaskResource { TaskId = "../x", Spec = [] });
        var notReady = await Assert.ThrowsAsync<RpcException>(() => _f.Client.UpdateAsync(Update(id, badTasks)).ResponseAsync);
        Assert.Equal(StatusCode.FailedPrecondition, notReady.StatusCode);
        await _f.Client.StartAsync(new ControllerStartRequest { SandboxId = id });
        var traversalTask = await Assert.ThrowsAsync<RpcException>(() => _f.Client.UpdateAsync(Update(id, badTasks)).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, traversalTask.StatusCode);
        Assert.False(Directory.Exists(Path.Combine(_f.BundleRoot, "x")));
        await _f.Client.ShutdownAsync(new ControllerShutdownRequest { SandboxId = id });
    }

    private static ControllerUpdateRequest Update(string id, TaskResources list)
    {
        var sandbox = new SandboxApi.V1.Sandbox { SandboxId = id };
        sandbox.Extensions[TypeUrls.TasksExtension] = new Any { TypeUrl = TypeUrls.Tasks, Value = ByteString.CopyFrom(list.ToUtf8Json()) };
        return new ControllerUpdateRequest { SandboxId = id, Sandboxer = "kuasar", Sandbox = sandbox, Fields = { TypeUrls.TasksField } };
    }

    private static string NewId() => "sv-" + Guid.NewGuid().ToString("N")[..10];
}
