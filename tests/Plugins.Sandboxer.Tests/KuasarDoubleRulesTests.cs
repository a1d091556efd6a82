using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Isola.Plugins.Sandboxer.Tests.Kuasar;
using Isola.Plugins.Sandboxer.Transport;
using Isola.SandboxApi;
using Isola.SandboxApi.V1;

namespace Isola.Plugins.Sandboxer.Tests;

/// <summary>The Kuasar double refuses what Kuasar refuses (protocols.md 1.5, 8), so the conformance tests above
/// would fail if the controller sent it.</summary>
public sealed class KuasarDoubleRulesTests : IAsyncLifetime
{
    private FakeSandboxerServer _server = null!;
    private SandboxerEndpoint _endpoint = null!;
    private Controller.ControllerClient _raw = null!;

    public async Task InitializeAsync()
    {
        _server = await FakeSandboxerServer.StartNewAsync(FakeKind.KuasarV1);
        _endpoint = new SandboxerEndpoint(_server.SocketPath);
        _raw = new Controller.ControllerClient(_endpoint.Invoker);
    }

    public async Task DisposeAsync()
    {
        _endpoint.Dispose();
        await _server.DisposeAsync();
    }

    [Fact]
    public async Task An_empty_sandbox_id_is_InvalidArgument()
    {
        var e = await Assert.ThrowsAsync<RpcException>(() => _raw.CreateAsync(new ControllerCreateRequest { Sandboxer = "vmm" }).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
    }

    [Fact]
    public async Task A_request_without_its_sandboxer_is_refused_before_anything_is_recorded()
    {
        var e = await Assert.ThrowsAsync<RpcException>(() => _raw.MetricsAsync(new ControllerMetricsRequest { SandboxId = "s0" }).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Contains("sandboxer", e.Status.Detail);
        e = await Assert.ThrowsAsync<RpcException>(() => _raw.UpdateAsync(new ControllerUpdateRequest { SandboxId = "s0" }).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Empty(_server.State.Requests);
    }

    [Theory]
    [InlineData("""{"tasks":[{"task_id":"c1","spec":{"process":{"cwd":"/"}}}]}""", "ociVersion")]
    [InlineData("""{"tasks":[{"task_id":"c1","spec":{"ociVersion":"1.1.0","process":{"args":["sh"]}}}]}""", "cwd")]
    [InlineData("""{"tasks":[{"task_id":"c1","spec":{"ociVersion":"1.1.0"},"processes":[{"exec_id":"e","spec":{"args":["ls"]}}]}]}""", "cwd")]
    public async Task Task_JSON_without_the_fields_Kuasar_requires_is_refused(string json, string missing)
    {
        await _raw.CreateAsync(new ControllerCreateRequest { SandboxId = "s1", Sandboxer = "vmm" });
        var sandbox = new SandboxApi.V1.Sandbox { SandboxId = "s1" };
        sandbox.Extensions[TypeUrls.TasksExtension] = new Any { TypeUrl = TypeUrls.Tasks, Value = ByteString.CopyFromUtf8(json) };

        var e = await Assert.ThrowsAsync<RpcException>(() => _raw.UpdateAsync(new ControllerUpdateRequest
        {
            SandboxId = "s1", Sandboxer = "vmm", Sandbox = sandbox, Fields = { TypeUrls.TasksField },
        }).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Contains(missing, e.Status.Detail);
        Assert.Empty(_server.State.Get("s1").Tasks.Tasks);
    }

    [Fact]
    public async Task Exec_processes_listed_with_a_new_task_are_dropped_and_Update_without_the_field_is_a_noop()
    {
        await _raw.CreateAsync(new ControllerCreateRequest { SandboxId = "s2", Sandboxer = "vmm" });
        var json = """{"tasks":[{"task_id":"c1","spec":{"ociVersion":"1.1.0"},"processes":[{"exec_id":"e","spec":{"cwd":"/"}}]}]}""";
        var sandbox = new SandboxApi.V1.Sandbox { SandboxId = "s2" };
        sandbox.Extensions[TypeUrls.TasksExtension] = new Any { Value = ByteString.CopyFromUtf8(json) };

        await _raw.UpdateAsync(new ControllerUpdateRequest { SandboxId = "s2", Sandboxer = "vmm", Sandbox = sandbox, Fields = { "labels" } });
        Assert.Empty(_server.State.Get("s2").Tasks.Tasks);
        await _raw.UpdateAsync(new ControllerUpdateRequest { SandboxId = "s2", Sandboxer = "vmm", Sandbox = sandbox, Fields = { TypeUrls.TasksField } });
        Assert.Empty(_server.State.Get("s2").Tasks.Find("c1")!.Processes);
    }
}
