using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Isola.Executors;
using Isola.TaskApi.Protos.Agent;
using Isola.TaskApi.Protos.Streaming;
using Isola.TaskApi.Protos.Task;
using Isola.TaskApi.Protos.Transfer;
using Isola.Ttrpc;
using Isola.Ttrpc.Client;
using ProtoMount = Isola.TaskApi.Protos.Types.Mount;

namespace Isola.Agent.Tests;

/// <summary>
/// Stdio streamed over the agent channel (containerd.services.streaming.v1), for guests without a shared filesystem:
/// through the host's own client (the task-api plugin), and by hand on the wire where the test needs a host to come
/// and go. Also the bundle carried in Create's options.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class StreamedStdioTests : AgentTestBase
{
    [Fact]
    public async Task Streamed_stdout_and_stderr_are_complete_in_the_host_files_when_Wait_returns()
    {
        await using var client = await PluginClient.ConnectAsync(Agent);
        var id = TestBundle.NewId("stream");
        var bundle = TestBundle.Create(WorkDir, id, ["sh", "-c", "i=0; while [ $i -lt 3000 ]; do echo line-$i; i=$((i+1)); done; echo oops >&2; exit 3"]);
        var host = HostFiles(id);

        await client.CreateAsync(new TaskCreateRequest { Id = id, Bundle = bundle, Stdio = Streams(id), HostStdio = host }, default);
        Track(id);
        await client.StartAsync(id, null, default);
        var exit = await client.WaitAsync(id, null, default);
        var stdout = await File.ReadAllLinesAsync(host.Stdout);
        var stderr = await File.ReadAllTextAsync(host.Stderr);
        await client.DeleteAsync(id, null, default);
        Forget(id);

        Assert.Equal(3u, exit.Code);
        Assert.Equal(3000, stdout.Length);
        Assert.Equal("line-0", stdout[0]);
        Assert.Equal("line-2999", stdout[^1]);
        Assert.Equal("oops\n", stderr);
    }

    [Fact]
    public async Task Streamed_stdin_from_a_host_file_reaches_the_process_and_ends_with_EOF()
    {
        await using var client = await PluginClient.ConnectAsync(Agent);
        var id = TestBundle.NewId("stdin");
        var bundle = TestBundle.Create(WorkDir, id, ["sh", "-c", "cat; echo done"]);
        var host = HostFiles(id) with { Stdin = Path.Combine(WorkDir, id + ".in") };
        var input = string.Concat(Enumerable.Range(0, 20000).Select(i => $"in-{i}\n")); // over the 64 KiB window
        await File.WriteAllTextAsync(host.Stdin, input);

        await client.CreateAsync(new TaskCreateRequest { Id = id, Bundle = bundle, Stdio = Streams(id, stdin: true), HostStdio = host }, default);
        Track(id);
        await client.StartAsync(id, null, default);
        var exit = await client.WaitAsync(id, null, default).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(0u, exit.Code);
        Assert.Equal(input + "done\n", await File.ReadAllTextAsync(host.Stdout));
    }

    [Fact]
    public async Task Streamed_exec_output_reaches_the_host_file_when_Wait_returns()
    {
        await using var client = await PluginClient.ConnectAsync(Agent);
        var id = TestBundle.NewId("sexec");
        var bundle = TestBundle.Create(WorkDir, id, ["sleep", "600"]);
        await client.CreateAsync(new TaskCreateRequest { Id = id, Bundle = bundle, Stdio = new StdioSpec("", "", "") }, default);
        Track(id);
        await client.StartAsync(id, null, default);
        var host = HostFiles(id + "-e1");

        await client.ExecAsync(new TaskExecRequest
        {
            Id = id,
            ExecId = "e1",
            Stdio = Streams(id + "+e1"),
            HostStdio = host,
            ProcessSpecJson = """{"args":["sh","-c","echo from-exec; echo err >&2; exit 5"],"cwd":"/","env":["PATH=/bin"],"user":{"uid":0,"gid":0}}""",
        }, default);
        await client.StartAsync(id, "e1", default);
        var exit = await client.WaitAsync(id, "e1", default);

        Assert.Equal(5u, exit.Code);
        Assert.Equal("from-exec\n", await File.ReadAllTextAsync(host.Stdout));
        Assert.Equal("err\n", await File.ReadAllTextAsync(host.Stderr));
        await client.DeleteAsync(id, "e1", default);
    }

    [Fact]
    public async Task Output_written_while_no_host_is_attached_is_held_for_the_next_host_and_the_stream_ends_after_it()
    {
        var id = TestBundle.NewId("held");
        var bundle = TestBundle.Create(WorkDir, id, ["sh", "-c", "echo one; read x < /dev/null; sleep 1; echo two; sleep 1; echo three"]);
        var first = await ConnectRawAsync();
        var stream = await OpenAsync(first, id + "-stdout");
        await Agent.CallAsync("Create", new CreateTaskRequest { Id = id, Bundle = bundle, Stdout = Streams(id).Stdout }, CreateTaskResponse.Parser);
        Track(id);
        await StartAsync(id);
        Assert.Equal("one\n", await NextDataAsync(stream));
        await first.DisposeAsync(); // the host goes away: "two" and "three" are written with nobody attached

        await WaitAsync(id);
        await using var second = await ConnectRawAsync();
        var again = await OpenAsync(second, id + "-stdout");
        var held = await NextDataAsync(again) + await NextDataAsync(again);
        var end = await again.ReadAsync().WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal("two\nthree\n", held);
        Assert.Null(end); // everything was sent: the stream ends with OK
        await again.ResponseAsync();
    }

    [Fact]
    public async Task A_bundle_carried_in_Create_options_is_written_by_the_agent_and_removed_on_Delete()
    {
        var id = TestBundle.NewId("carried");
        var bundle = Path.Combine(WorkDir, "guest-state", id);
        var config = TestBundle.ConfigJson(id, "rootfs", ["ls", "/bin/busybox"]);
        var request = new CreateTaskRequest
        {
            Id = id,
            Bundle = bundle,
            Stdout = Path.Combine(WorkDir, id + ".out"),
            Rootfs = { new ProtoMount { Type = "bind", Source = TestBundle.SharedRootfs, Options = { "rbind", "ro" } } },
            Options = new Any { TypeUrl = "isola.agent.v1.BundleConfig", Value = new BundleConfig { ConfigJson = ByteString.CopyFromUtf8(config) }.ToByteString() },
        };

        await Agent.CallAsync("Create", request, CreateTaskResponse.Parser);
        Track(id);
        var written = File.ReadAllText(Path.Combine(bundle, "config.json"));
        var again = await Assert.ThrowsAsync<TtrpcException>(() => Agent.CallAsync("Create", request.Clone(), CreateTaskResponse.Parser));
        await StartAsync(id);
        var exit = await WaitAsync(id);
        await DeleteAsync(id);

        Assert.Equal(config, written);
        Assert.Equal(0u, exit.ExitStatus);
        Assert.Equal(TtrpcStatusCode.AlreadyExists, again.Code);
        Assert.False(Directory.Exists(bundle), "the agent's own bundle is removed on Delete");
    }

    [Fact]
    public async Task Bad_stream_ids_and_a_stream_two_processes_claim_are_refused_naming_them_and_leave_nothing()
    {
        var id = TestBundle.NewId("badstream");
        var bundle = TestBundle.Create(WorkDir, id, ["true"]);
        var slash = await Assert.ThrowsAsync<TtrpcException>(() => Agent.CallAsync("Create",
            new CreateTaskRequest { Id = id, Bundle = bundle, Stdout = "x?streaming_id=../etc" }, CreateTaskResponse.Parser));
        var other = TestBundle.NewId("badstream2");
        await Agent.CallAsync("Create", new CreateTaskRequest { Id = other, Bundle = TestBundle.Create(WorkDir, other, ["sleep", "600"]), Stdout = "x?streaming_id=shared" },
            CreateTaskResponse.Parser);
        Track(other);
        var taken = await Assert.ThrowsAsync<TtrpcException>(() => Agent.CallAsync("Create",
            new CreateTaskRequest { Id = id, Bundle = bundle, Stdout = "x?streaming_id=shared" }, CreateTaskResponse.Parser));
        var state = await Assert.ThrowsAsync<TtrpcException>(() => StateAsync(id));

        Assert.Equal(TtrpcStatusCode.InvalidArgument, slash.Code);
        Assert.Contains("../etc", slash.Message, StringComparison.Ordinal);
        Assert.Equal(TtrpcStatusCode.AlreadyExists, taken.Code);
        Assert.Contains("'shared'", taken.Message, StringComparison.Ordinal);
        Assert.Contains(id, taken.Message, StringComparison.Ordinal);
        Assert.Equal(TtrpcStatusCode.NotFound, state.Code);
        Assert.False(Directory.Exists(Path.Combine(Agent.StateDir, id)));
    }

    private static StdioSpec Streams(string process, bool stdin = false) => new(
        stdin ? $"ttrpc+unix:///agent.sock?streaming_id={process}-stdin" : "",
        $"ttrpc+unix:///agent.sock?streaming_id={process}-stdout",
        $"ttrpc+unix:///agent.sock?streaming_id={process}-stderr");

    private StdioSpec HostFiles(string name) =>
        new("", Path.Combine(WorkDir, name + ".out"), Path.Combine(WorkDir, name + ".err"));

    private Task<TtrpcClient> ConnectRawAsync() => TtrpcClient.ConnectAsync("unix://" + Path.Combine(Agent.Dir, "agent.sock"));

    private static async Task<TtrpcClientStream> OpenAsync(TtrpcClient client, string id)
    {
        var stream = await client.OpenStreamAsync("containerd.services.streaming.v1.Streaming", "Stream", ReadOnlyMemory<byte>.Empty, clientStreams: true);
        await stream.SendAsync(new Any { TypeUrl = "containerd.services.streaming.v1.StreamInit", Value = new StreamInit { Id = id }.ToByteString() });
        var ack = Any.Parser.ParseFrom((await stream.ReadAsync())!.Value.Span);
        Assert.Equal("google.protobuf.Empty", ack.TypeUrl);
        return stream;
    }

    private static async Task<string> NextDataAsync(TtrpcClientStream stream)
    {
        var frame = await stream.ReadAsync().WaitAsync(TimeSpan.FromSeconds(10)) ?? throw new InvalidOperationException("the stream ended");
        var any = Any.Parser.ParseFrom(frame.Span);
        Assert.Equal("containerd.types.transfer.Data", any.TypeUrl);
        return Data.Parser.ParseFrom(any.Value).Data_.ToStringUtf8();
    }
}
