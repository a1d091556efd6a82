using System.Collections.Concurrent;
using System.Text.Json;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Isola.Controllers;
using Isola.Executors;
using Isola.TaskApi.Protos.Task;
using Isola.Ttrpc;
using Isola.Ttrpc.Client;
using ProtoStatus = Isola.TaskApi.Protos.Types.Status;

namespace Isola.Plugins.TaskApi;

/// <summary>
/// The Task API (containerd.task.v2 or v3: the messages are the same, only the service name differs) over one ttrpc
/// connection. Hand-written stubs: Grpc.Tools generates gRPC clients, and shims speak ttrpc.
/// </summary>
internal sealed class TaskServiceClient : ITaskClient
{
    /// <summary>Type url containerd uses for an OCI Process carried as JSON in ExecProcessRequest.spec.</summary>
    public const string ProcessTypeUrl = "types.containerd.io/opencontainers/runtime-spec/1/Process";

    /// <summary>Type url containerd uses for OCI LinuxResources carried as JSON in UpdateTaskRequest.resources.</summary>
    public const string ResourcesTypeUrl = "types.containerd.io/opencontainers/runtime-spec/1/LinuxResources";

    /// <summary>How long Wait waits, once the process has exited, for its streamed output to arrive (a daemon the
    /// process left behind may hold the pipe open for ever).</summary>
    internal static readonly TimeSpan OutputGrace = TimeSpan.FromSeconds(10);

    private readonly TtrpcClient _client;
    private readonly string _service;
    private readonly ConcurrentDictionary<string, StreamedStdio> _streamed = new(StringComparer.Ordinal);

    public TaskServiceClient(TtrpcClient client, TaskEndpoint endpoint)
    {
        _client = client;
        Endpoint = endpoint;
        _service = ServiceName(endpoint.Version);
    }

    public TaskEndpoint Endpoint { get; }

    public bool IsConnected => _client.IsConnected;

    /// <summary>Completes when the connection closes.</summary>
    public Task Completion => _client.Completion;

    /// <summary>The ttrpc service name of Task API <paramref name="version"/>.</summary>
    public static string ServiceName(uint version) => version switch
    {
        0 or 2 => "containerd.task.v2.Task",
        3 => "containerd.task.v3.Task",
        _ => throw IsolaException.InvalidArgument($"unsupported Task API version {version}: expected 2 or 3"),
    };

    public async Task<uint> CreateAsync(TaskCreateRequest request, CancellationToken cancellationToken)
    {
        var message = new CreateTaskRequest
        {
            Id = request.Id,
            Bundle = request.Bundle,
            Terminal = request.Terminal,
            Stdin = request.Stdio.Stdin,
            Stdout = OutputOrNull(request.Stdio.Stdout, request.Stdio.Stderr),
            Stderr = OutputOrNull(request.Stdio.Stderr, request.Stdio.Stdout),
        };
        message.Rootfs.AddRange(request.Rootfs.Select(m => new Isola.TaskApi.Protos.Types.Mount { Type = m.Type, Source = m.Source, Target = m.Destination, Options = { m.Options } }));
        // The controller's Prepare chose them (the shim controller: the pod's OCI runtime); the host passes them on.
        if (request.Options is { } options)
        {
            message.Options = new Any { TypeUrl = options.TypeUrl, Value = ByteString.CopyFrom(options.Value) };
        }

        await OpenStreamsAsync(request.Id, null, request.Stdio, request.HostStdio, cancellationToken).ConfigureAwait(false);
        try
        {
            return (await CallAsync("Create", message, CreateTaskResponse.Parser, request.Id, cancellationToken).ConfigureAwait(false)).Pid;
        }
        catch
        {
            await CloseStreamsAsync(Key(request.Id, null)).ConfigureAwait(false);
            throw;
        }
    }

    public async Task<uint> StartAsync(string id, string? execId, CancellationToken cancellationToken) =>
        (await CallAsync("Start", new StartRequest { Id = id, ExecId = execId ?? "" }, StartResponse.Parser, id, cancellationToken).ConfigureAwait(false)).Pid;

    public async Task<TaskState> StateAsync(string id, string? execId, CancellationToken cancellationToken)
    {
        var r = await CallAsync("State", new StateRequest { Id = id, ExecId = execId ?? "" }, StateResponse.Parser, id, cancellationToken).ConfigureAwait(false);
        var status = ToStatus(r.Status);
        return new TaskState
        {
            Id = r.Id,
            ExecId = r.ExecId,
            Bundle = r.Bundle,
            Pid = r.Pid,
            Status = status,
            Stdio = new StdioSpec(r.Stdin, r.Stdout, r.Stderr),
            Terminal = r.Terminal,
            Exit = status == Executors.TaskStatus.Stopped ? new ExitStatus(r.ExitStatus, ToTime(r.ExitedAt)) : null,
        };
    }

    public async Task<ExitStatus> WaitAsync(string id, string? execId, CancellationToken cancellationToken)
    {
        var r = await CallAsync("Wait", new WaitRequest { Id = id, ExecId = execId ?? "" }, WaitResponse.Parser, id, cancellationToken, noDeadline: true).ConfigureAwait(false);
        if (_streamed.TryGetValue(Key(id, execId), out var streamed))
        {
            // Output reaches the host files through this process: complete, as with files the guest writes, when Wait returns.
            await Task.WhenAny(streamed.Outputs, Task.Delay(OutputGrace, cancellationToken)).ConfigureAwait(false);
        }

        return new ExitStatus(r.ExitStatus, ToTime(r.ExitedAt));
    }

    public Task KillAsync(string id, string? execId, uint signal, bool all, CancellationToken cancellationToken) =>
        CallAsync("Kill", new KillRequest { Id = id, ExecId = execId ?? "", Signal = signal, All = all }, Empty.Parser, id, cancellationToken);

    public async Task<TaskDeleteResult> DeleteAsync(string id, string? execId, CancellationToken cancellationToken)
    {
        var r = await CallAsync("Delete", new DeleteRequest { Id = id, ExecId = execId ?? "" }, DeleteResponse.Parser, id, cancellationToken).ConfigureAwait(false);
        // Deleting a container ends its exec processes' streams too ("id/" prefixes every key of the container).
        foreach (var key in _streamed.Keys.Where(k => execId is null ? k.StartsWith(id + "/", StringComparison.Ordinal) : k == Key(id, execId)))
        {
            await CloseStreamsAsync(key).ConfigureAwait(false);
        }

        return new TaskDeleteResult(r.Pid, new ExitStatus(r.ExitStatus, ToTime(r.ExitedAt)));
    }

    public async Task AttachStdioAsync(string id, StdioSpec taskStdio, StdioSpec hostStdio, CancellationToken cancellationToken)
    {
        if (!_streamed.ContainsKey(Key(id, null)))
        {
            await OpenStreamsAsync(id, null, taskStdio, hostStdio, cancellationToken).ConfigureAwait(false);
        }
    }

    public async Task ExecAsync(TaskExecRequest request, CancellationToken cancellationToken)
    {
        await OpenStreamsAsync(request.Id, request.ExecId, request.Stdio, request.HostStdio, cancellationToken).ConfigureAwait(false);
        try
        {
            await ExecCallAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await CloseStreamsAsync(Key(request.Id, request.ExecId)).ConfigureAwait(false);
            throw;
        }
    }

    private Task ExecCallAsync(TaskExecRequest request, CancellationToken cancellationToken) =>
        CallAsync("Exec", new ExecProcessRequest
        {
            Id = request.Id,
            ExecId = request.ExecId,
            Terminal = request.Terminal,
            Stdin = request.Stdio.Stdin,
            Stdout = OutputOrNull(request.Stdio.Stdout, request.Stdio.Stderr),
            Stderr = OutputOrNull(request.Stdio.Stderr, request.Stdio.Stdout),
            Spec = new Any { TypeUrl = ProcessTypeUrl, Value = ByteString.CopyFromUtf8(request.ProcessSpecJson) },
        }, Empty.Parser, request.Id, cancellationToken);

    public Task ResizePtyAsync(string id, string? execId, uint width, uint height, CancellationToken cancellationToken) =>
        CallAsync("ResizePty", new ResizePtyRequest { Id = id, ExecId = execId ?? "", Width = width, Height = height }, Empty.Parser, id, cancellationToken);

    public Task CloseIOAsync(string id, string? execId, CancellationToken cancellationToken) =>
        CallAsync("CloseIO", new CloseIORequest { Id = id, ExecId = execId ?? "", Stdin = true }, Empty.Parser, id, cancellationToken);

    public async Task<IReadOnlyList<uint>> PidsAsync(string id, CancellationToken cancellationToken) =>
        (await CallAsync("Pids", new PidsRequest { Id = id }, PidsResponse.Parser, id, cancellationToken).ConfigureAwait(false))
            .Processes.Select(p => p.Pid).ToList();

    public Task PauseAsync(string id, CancellationToken cancellationToken) =>
        CallAsync("Pause", new PauseRequest { Id = id }, Empty.Parser, id, cancellationToken);

    public Task ResumeAsync(string id, CancellationToken cancellationToken) =>
        CallAsync("Resume", new ResumeRequest { Id = id }, Empty.Parser, id, cancellationToken);

    public Task UpdateAsync(string id, LinuxResources resources, IReadOnlyDictionary<string, string>? annotations, CancellationToken cancellationToken)
    {
        var request = new UpdateTaskRequest
        {
            Id = id,
            Resources = new Any { TypeUrl = ResourcesTypeUrl, Value = ByteString.CopyFromUtf8(OciSpecEdits.Resources(resources).ToJsonString()) },
        };
        if (annotations is not null)
        {
            foreach (var (key, value) in annotations)
            {
                request.Annotations[key] = value;
            }
        }

        return CallAsync("Update", request, Empty.Parser, id, cancellationToken);
    }

    public async Task<TaskStats> StatsAsync(string id, CancellationToken cancellationToken)
    {
        var r = await CallAsync("Stats", new StatsRequest { Id = id }, StatsResponse.Parser, id, cancellationToken).ConfigureAwait(false);
        return new TaskStats(r.Stats?.TypeUrl ?? "", r.Stats?.Value.ToByteArray() ?? []);
    }

    public async Task<TaskConnectResult> ConnectAsync(string id, CancellationToken cancellationToken)
    {
        var r = await CallAsync("Connect", new ConnectRequest { Id = id }, ConnectResponse.Parser, id, cancellationToken).ConfigureAwait(false);
        return new TaskConnectResult(r.ShimPid, r.TaskPid, r.Version);
    }

    public Task ShutdownAsync(string id, bool now, CancellationToken cancellationToken) =>
        CallAsync("Shutdown", new ShutdownRequest { Id = id, Now = now }, Empty.Parser, id, cancellationToken);

    public async ValueTask DisposeAsync()
    {
        foreach (var key in _streamed.Keys)
        {
            await CloseStreamsAsync(key).ConfigureAwait(false);
        }

        await _client.DisposeAsync().ConfigureAwait(false);
    }

    private static string Key(string id, string? execId) => id + "/" + execId;

    private async Task OpenStreamsAsync(string id, string? execId, StdioSpec stdio, StdioSpec? host, CancellationToken cancellationToken)
    {
        var owner = execId is null ? $"task '{id}'" : $"exec '{execId}' of task '{id}'";
        if (await StreamedStdio.OpenAsync(_client, stdio, host, owner, cancellationToken).ConfigureAwait(false) is not { } streamed)
        {
            return;
        }

        if (!_streamed.TryAdd(Key(id, execId), streamed))
        {
            await streamed.DisposeAsync().ConfigureAwait(false);
            throw IsolaException.AlreadyExists($"{owner}: its stdio is already being streamed");
        }
    }

    private async Task CloseStreamsAsync(string key)
    {
        if (_streamed.TryRemove(key, out var streamed))
        {
            await streamed.DisposeAsync().ConfigureAwait(false);
        }
    }

    private async Task<T> CallAsync<T>(string method, IMessage request, MessageParser<T> parser, string id,
        CancellationToken cancellationToken, bool noDeadline = false)
        where T : IMessage<T>
    {
        try
        {
            // Wait blocks until the process exits: it must not inherit the client's default deadline.
            var options = noDeadline ? new TtrpcCallOptions { Timeout = Timeout.InfiniteTimeSpan } : null;
            return await _client.CallAsync(_service, method, request, parser, options, cancellationToken).ConfigureAwait(false);
        }
        catch (TtrpcException t)
        {
            var e = t.ToIsola();
            throw e.Message.Contains($"'{id}'", StringComparison.Ordinal) ? e : new IsolaException(e.Code, $"task '{id}' {method}: {e.Message}", e);
        }
    }

    /// <summary>
    /// containerd 1.6's shim dereferences a nil pipe (and the whole shim, with every container of the pod, dies) when
    /// one output stream is a URL such as file:// and the other is empty. An empty stream next to a URL is therefore
    /// sent as file:///dev/null, which discards it just the same.
    /// </summary>
    internal static string OutputOrNull(string stream, string other) =>
        stream.Length == 0 && other.Contains("://", StringComparison.Ordinal) ? "file:///dev/null" : stream;

    private static Executors.TaskStatus ToStatus(ProtoStatus status) => status switch
    {
        ProtoStatus.Created => Executors.TaskStatus.Created,
        ProtoStatus.Running => Executors.TaskStatus.Running,
        ProtoStatus.Stopped => Executors.TaskStatus.Stopped,
        ProtoStatus.Paused => Executors.TaskStatus.Paused,
        ProtoStatus.Pausing => Executors.TaskStatus.Pausing,
        _ => Executors.TaskStatus.Unknown,
    };

    private static DateTimeOffset ToTime(Timestamp? t) => t is null ? DateTimeOffset.UtcNow : t.ToDateTimeOffset();
}
