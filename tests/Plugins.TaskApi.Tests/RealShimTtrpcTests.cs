using Google.Protobuf;
using Isola.Executors;
using Isola.Plugins.TaskApi.Tests.Infrastructure;
using Isola.TaskApi.Protos.Task;
using Isola.Ttrpc.Client;

namespace Isola.Plugins.TaskApi.Tests;

/// <summary>Isola.Ttrpc and the Task API client against the real containerd-shim-runc-v2 (Go ttrpc server).</summary>
[Collection(RealShimCollection.Name)]
public sealed class RealShimTtrpcTests(RootfsFixture rootfs) : IAsyncLifetime
{
    private const string V2 = "containerd.task.v2.Task";
    private readonly ShimPods _pods = new();
    private Controllers.SandboxContext _sandbox = null!;

    public async Task InitializeAsync() => _sandbox = await _pods.RunSandboxAsync();

    public async Task DisposeAsync() => await _pods.DisposeAsync();

    [Fact]
    public async Task Many_concurrent_calls_share_one_connection_and_a_blocked_Wait_does_not_hold_up_the_others()
    {
        await using var client = await _pods.TaskClientAsync(_sandbox);
        var id = await _pods.CreateContainerAsync(client, _sandbox, rootfs.Dir, ["sleep", "600"]);
        await client.StartAsync(id, null, CancellationToken.None);

        // Wait is answered only after the Kill below, which is sent later on the same connection: the shim must
        // answer out of order, and the client must route each answer to its caller.
        var wait = client.WaitAsync(id, null, CancellationToken.None);
        var states = await Task.WhenAll(Enumerable.Range(0, 32).Select(i =>
            client.StateAsync(i % 2 == 0 ? id : _sandbox.Id.Value, null, CancellationToken.None)));
        Assert.False(wait.IsCompleted);
        await client.KillAsync(id, null, 9, false, CancellationToken.None);
        var exit = await wait.WaitAsync(TimeSpan.FromSeconds(20));
        await client.DeleteAsync(id, null, CancellationToken.None);

        Assert.All(states, s => Assert.Equal(Executors.TaskStatus.Running, s.Status));
        Assert.Equal(16, states.Count(s => s.Id == id));
        Assert.Equal(137u, exit.Code);
    }

    [Fact]
    public async Task Connect_reports_the_shim_and_pause_pids_and_errors_map_to_codes()
    {
        await using var client = await _pods.TaskClientAsync(_sandbox);

        var connect = await client.ConnectAsync(_sandbox.Id.Value, CancellationToken.None);
        var missing = await Assert.ThrowsAsync<IsolaException>(() => client.StateAsync("no-such-task", null, CancellationToken.None));

        Assert.Equal(ShimPods.PausePid(_sandbox), connect.TaskPid);
        Assert.True(Directory.Exists($"/proc/{connect.ShimPid}"));
        Assert.Contains("containerd-shim", await File.ReadAllTextAsync($"/proc/{connect.ShimPid}/cmdline"));
        Assert.Equal(IsolaErrorCode.NotFound, missing.Code);
        Assert.Contains("no-such-task", missing.Message);
    }

    [Theory]
    [InlineData("ttrpc+unix://{0}")]
    [InlineData("unix://{0}")]
    [InlineData("{0}")]
    public async Task Executor_dials_every_unix_form_of_the_task_address(string form)
    {
        var socket = ShimPods.SocketOf(_sandbox);
        var endpoint = TaskEndpoint.Parse(string.Format(form, socket), 2);

        await using var client = await _pods.Executor.ConnectAsync(endpoint, CancellationToken.None);
        var state = await client.StateAsync(_sandbox.Id.Value, null, CancellationToken.None);

        Assert.Equal(Executors.TaskStatus.Running, state.Status);
        Assert.Contains(endpoint.Scheme, _pods.Executor.Schemes);
    }

    [Fact]
    public async Task Executor_refuses_foreign_schemes_and_unknown_versions_before_dialling()
    {
        var grpc = await Assert.ThrowsAsync<IsolaException>(() => _pods.Executor.ConnectAsync(TaskEndpoint.Parse("grpc+unix:///x.sock", 3), CancellationToken.None));
        var v7 = await Assert.ThrowsAsync<IsolaException>(() => _pods.Executor.ConnectAsync(TaskEndpoint.Parse(_sandbox.TaskAddress, 7), CancellationToken.None));

        Assert.Equal(IsolaErrorCode.InvalidArgument, grpc.Code);
        Assert.Contains("grpc+unix", grpc.Message);
        Assert.Equal(IsolaErrorCode.InvalidArgument, v7.Code);
        Assert.Contains("7", v7.Message);
    }

    [Fact]
    public async Task The_1_6_shim_serves_v2_only_so_a_v3_client_gets_a_clear_error()
    {
        var v3 = await _pods.Executor.ConnectAsync(TaskEndpoint.Parse(_sandbox.TaskAddress, 3), CancellationToken.None);
        await using var _ = v3;

        var e = await Assert.ThrowsAsync<IsolaException>(() => v3.StateAsync(_sandbox.Id.Value, null, CancellationToken.None));

        Assert.Equal(IsolaErrorCode.Unimplemented, e.Code);
        Assert.Contains("containerd.task.v3.Task", e.Message);
    }

    [Fact]
    public async Task Raw_client_frames_calls_the_shim_understands_and_refuses_oversized_requests()
    {
        await using var raw = await TtrpcClient.ConnectAsync(_sandbox.TaskAddress);

        var state = await raw.CallAsync(V2, "State", new StateRequest { Id = _sandbox.Id.Value }, StateResponse.Parser);
        var big = new UpdateTaskRequest { Id = _sandbox.Id.Value, Annotations = { ["x"] = new string('a', 4 << 20) } };
        var oversize = await Assert.ThrowsAsync<Isola.Ttrpc.TtrpcException>(() => raw.CallAsync(V2, "Update", big, Google.Protobuf.WellKnownTypes.Empty.Parser));
        var after = await raw.CallAsync(V2, "State", new StateRequest { Id = _sandbox.Id.Value }, StateResponse.Parser);

        Assert.Equal(Isola.TaskApi.Protos.Types.Status.Running, state.Status);
        Assert.Equal(Isola.Ttrpc.TtrpcStatusCode.ResourceExhausted, oversize.Code);
        Assert.Equal(state.Pid, after.Pid); // the connection survived the refusal
        Assert.True(raw.IsConnected);
    }

    [Fact]
    public async Task Exec_runs_a_process_in_a_running_container()
    {
        await using var client = await _pods.TaskClientAsync(_sandbox);
        var id = await _pods.CreateContainerAsync(client, _sandbox, rootfs.Dir, ["sleep", "600"]);
        await client.StartAsync(id, null, CancellationToken.None);
        var output = Path.Combine(_sandbox.StateDirectory, "exec.out");

        await client.ExecAsync(new TaskExecRequest
        {
            Id = id,
            ExecId = "e1",
            // stderr left empty on purpose: next to a file:// stdout that crashes a 1.6 shim unless the executor covers it.
            Stdio = new StdioSpec("", "file://" + output, ""),
            ProcessSpecJson = """{"args":["sh","-c","echo exec-ok; exit 5"],"env":["PATH=/bin"],"cwd":"/","user":{"uid":0,"gid":0}}""",
        }, CancellationToken.None);
        await client.StartAsync(id, "e1", CancellationToken.None);
        var exit = await client.WaitAsync(id, "e1", CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(20));
        await client.DeleteAsync(id, "e1", CancellationToken.None);
        var pids = await client.PidsAsync(id, CancellationToken.None);
        await client.KillAsync(id, null, 9, true, CancellationToken.None);
        await client.WaitAsync(id, null, CancellationToken.None);
        await client.DeleteAsync(id, null, CancellationToken.None);

        Assert.Equal(5u, exit.Code);
        Assert.Equal("exec-ok\n", await File.ReadAllTextAsync(output));
        Assert.Single(pids);
    }
}
