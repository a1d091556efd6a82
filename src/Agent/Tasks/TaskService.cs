using System.Collections.Concurrent;
using System.Reflection;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Isola.Agent.Processes;
using Isola.Agent.Streaming;
using Isola.TaskApi.Protos.Sandbox;
using Isola.TaskApi.Protos.Task;
using Isola.Ttrpc.Server;
using Microsoft.Extensions.Logging;

namespace Isola.Agent.Tasks;

/// <summary>
/// containerd.task.v2.Task, grpc.SandboxService/Check and (for streamed stdio) containerd.services.streaming.v1, served over ttrpc: containers created and run by runc,
/// processes reaped by the agent. Errors name the container or exec id; a failed Create leaves nothing behind.
/// </summary>
internal sealed partial class TaskService
{
    public const string TaskServiceName = "containerd.task.v2.Task";
    public const string TaskServiceV3Name = "containerd.task.v3.Task";
    public const string SandboxServiceName = "grpc.SandboxService";

    private readonly ConcurrentDictionary<string, Container> _containers = new(StringComparer.Ordinal);
    private readonly TaskCompletionSource _shutdown = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Runc _runc;
    private readonly ChildReaper _reaper;
    private readonly RootfsMounter _mounter;
    private readonly CgroupStats _stats;
    private readonly string _stateRoot;
    private readonly ILogger _logger;
    private readonly StdioStreams _streams;

    public TaskService(Runc runc, ChildReaper reaper, RootfsMounter mounter, CgroupStats stats, string stateRoot, ILogger logger)
    {
        _runc = runc;
        _reaper = reaper;
        _mounter = mounter;
        _stats = stats;
        _stateRoot = stateRoot;
        _logger = logger;
        _streams = new StdioStreams(logger);
    }

    /// <summary>Completes when a client asked for Shutdown (after the answer was produced).</summary>
    public Task ShutdownRequested => _shutdown.Task;

    public static string Version { get; } =
        typeof(TaskService).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0";

    /// <summary>Registers the Task API under v2 and v3 (same messages, only the service name differs; the host picks by
    /// the version the sandbox reports) and the readiness Check.</summary>
    public void Register(TtrpcServer server)
    {
        foreach (var service in new[] { TaskServiceName, TaskServiceV3Name })
        {
            server.AddUnary(service, "Create", CreateTaskRequest.Parser, (r, c) => CreateAsync(r, c.CancellationToken));
            server.AddUnary(service, "Start", StartRequest.Parser, (r, c) => StartAsync(r, c.CancellationToken));
            server.AddUnary(service, "Wait", WaitRequest.Parser, (r, c) => WaitAsync(r, c.CancellationToken));
            server.AddUnary(service, "State", StateRequest.Parser, (r, _) => Task.FromResult(State(r)));
            server.AddUnary(service, "Kill", KillRequest.Parser, (r, c) => KillAsync(r, c.CancellationToken));
            server.AddUnary(service, "Delete", DeleteRequest.Parser, (r, c) => DeleteAsync(r, c.CancellationToken));
            server.AddUnary(service, "Exec", ExecProcessRequest.Parser, (r, c) => ExecAsync(r, c.CancellationToken));
            server.AddUnary(service, "CloseIO", CloseIORequest.Parser, (r, _) => Task.FromResult(CloseIO(r)));
            server.AddUnary(service, "Pids", PidsRequest.Parser, (r, c) => PidsAsync(r, c.CancellationToken));
            server.AddUnary(service, "Stats", StatsRequest.Parser, (r, _) => Task.FromResult(Stats(r)));
            server.AddUnary(service, "Update", UpdateTaskRequest.Parser, (r, c) => UpdateAsync(r, c.CancellationToken));
            server.AddUnary(service, "Connect", ConnectRequest.Parser, (r, _) => Task.FromResult(Connect(r)));
            server.AddUnary(service, "Shutdown", ShutdownRequest.Parser, (r, _) => Task.FromResult(Shutdown(r)));
            server.AddUnary(service, "ResizePty", ResizePtyRequest.Parser, (r, _) =>
                Task.FromException<Empty>(Unimplemented($"{Describe(r.Id, r.ExecId)}: ResizePty: TTYs are not supported yet")));
            AddUnimplemented(server, service, "Pause", PauseRequest.Parser, r => r.Id);
            AddUnimplemented(server, service, "Resume", ResumeRequest.Parser, r => r.Id);
            AddUnimplemented(server, service, "Checkpoint", CheckpointTaskRequest.Parser, r => r.Id);
        }

        _streams.Register(server);
        server.AddUnary(SandboxServiceName, "Check", CheckRequest.Parser, (_, _) => Task.FromResult(new CheckResponse()));
    }

    private static void AddUnimplemented<T>(TtrpcServer server, string service, string method, MessageParser<T> parser, Func<T, string> id)
        where T : IMessage<T> =>
        server.AddUnary(service, method, parser, (r, _) =>
            Task.FromException<Empty>(Unimplemented($"container '{id(r)}': {method} is not supported by isola-agent")));

    private static IsolaException Unimplemented(string message) => new(IsolaErrorCode.Unimplemented, message);

    private static string Describe(string id, string execId) =>
        execId.Length == 0 ? $"container '{id}'" : $"exec '{execId}' of container '{id}'";

    private ConnectResponse Connect(ConnectRequest request) => new()
    {
        ShimPid = (uint)Environment.ProcessId,
        TaskPid = _containers.TryGetValue(request.Id, out var container) ? (uint)container.Init.Pid : 0,
        Version = Version,
    };

    private Empty Shutdown(ShutdownRequest request)
    {
        _logger.LogInformation("shutdown requested (id '{Id}', now {Now})", request.Id, request.Now);
        _shutdown.TrySetResult();
        return new Empty();
    }

    /// <summary>The container <paramref name="id"/>.</summary>
    /// <exception cref="IsolaException">NotFound, or InvalidArgument for a malformed id.</exception>
    private Container Find(string id)
    {
        IdValidator.Validate(id, "container");
        return _containers.TryGetValue(id, out var container)
            ? container
            : throw IsolaException.NotFound($"container '{id}' not found");
    }

    /// <summary>The init process (empty <paramref name="execId"/>) or an exec process of container <paramref name="id"/>.</summary>
    private TaskProcess FindProcess(string id, string execId)
    {
        var container = Find(id);
        if (execId.Length == 0)
        {
            return container.Init;
        }

        return container.Execs.TryGetValue(execId, out var process)
            ? process
            : throw IsolaException.NotFound($"exec '{execId}' of container '{id}' not found");
    }

    private static Timestamp? ExitTime(TaskProcess process) =>
        process.HasExited ? Timestamp.FromDateTimeOffset(process.Exited.Result.ExitedAt) : null;
}
