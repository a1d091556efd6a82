using System.Collections.Concurrent;
using Isola.Executors;
using TaskStatus = Isola.Executors.TaskStatus;

namespace Isola.Hosting.Tests.Doubles;

/// <summary>
/// A Task API test double with containerd's rules: Create needs a new id, Start needs Created, Delete refuses a
/// running task, Exec needs a running task, unknown ids are NotFound. Processes "exit" when killed or when the test
/// calls <see cref="ExitProcess"/>.
/// </summary>
public sealed class FakeTaskService : ITaskExecutor
{
    public string Name => "fake-executor";

    public IReadOnlyCollection<string> Schemes { get; } = ["fake"];

    public ConcurrentDictionary<string, FakeProcess> Processes { get; } = new();

    public ConcurrentQueue<string> Log { get; } = new();

    public ConcurrentDictionary<string, Exception> Failures { get; } = new();

    /// <summary>Operations that never answer (a wedged shim), ignoring their token.</summary>
    public ConcurrentDictionary<string, bool> Hangs { get; } = new();

    public int Connects;

    /// <summary>Connects to these addresses do not finish until the source is completed, whatever their token says
    /// (a plugin that ignores cancellation).</summary>
    public ConcurrentDictionary<string, TaskCompletionSource> HeldConnects { get; } = new();

    /// <summary>Released once per connect attempt, as it begins.</summary>
    public SemaphoreSlim ConnectStarted { get; } = new(0);

    /// <summary>Released once per client disposed.</summary>
    public SemaphoreSlim ClientDisposed { get; } = new(0);

    public async Task<ITaskClient> ConnectAsync(TaskEndpoint endpoint, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref Connects);
        ConnectStarted.Release();
        if (HeldConnects.TryGetValue(endpoint.Address, out var held))
        {
            await held.Task.ConfigureAwait(false);
        }

        return new Client(this, endpoint);
    }

    public void ExitProcess(string id, string? execId, uint code) => Processes[Key(id, execId)].Exit(code);

    internal static string Key(string id, string? execId) => execId is null ? id : $"{id}/{execId}";

    public sealed class FakeProcess(string id, string? execId, string bundle, StdioSpec stdio, string? processJson)
    {
        public string Id { get; } = id;
        public string? ExecId { get; } = execId;
        public string Bundle { get; } = bundle;
        public StdioSpec Stdio { get; } = stdio;
        public string? ProcessJson { get; } = processJson;
        public (string TypeUrl, byte[] Value)? Options { get; init; }
        public TaskStatus Status { get; set; } = TaskStatus.Created;
        public TaskCompletionSource<ExitStatus> Exited { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Exit(uint code)
        {
            Status = TaskStatus.Stopped;
            Exited.TrySetResult(new ExitStatus(code, DateTimeOffset.UtcNow));
        }
    }

    private sealed class Client(FakeTaskService service, TaskEndpoint endpoint) : ITaskClient
    {
        public TaskEndpoint Endpoint => endpoint;

        public bool IsConnected { get; private set; } = true;

        private FakeProcess Get(string id, string? execId) =>
            service.Processes.TryGetValue(Key(id, execId), out var p) ? p : throw IsolaException.NotFound($"fake task: '{Key(id, execId)}' not found");

        private void Enter(string op, string id)
        {
            service.Log.Enqueue($"{op} {id}");
            if (service.Failures.TryRemove(op, out var error))
            {
                throw error;
            }

            if (service.Hangs.ContainsKey(op))
            {
                Thread.Sleep(Timeout.Infinite);
            }
        }

        public Task<uint> CreateAsync(TaskCreateRequest request, CancellationToken cancellationToken)
        {
            Enter("Create", request.Id);
            if (!service.Processes.TryAdd(request.Id, new FakeProcess(request.Id, null, request.Bundle, request.Stdio, null) { Options = request.Options }))
            {
                throw IsolaException.AlreadyExists($"fake task: '{request.Id}' exists");
            }

            return Task.FromResult(100u);
        }

        public Task<uint> StartAsync(string id, string? execId, CancellationToken cancellationToken)
        {
            Enter("Start", Key(id, execId));
            var p = Get(id, execId);
            if (p.Status != TaskStatus.Created)
            {
                throw IsolaException.FailedPrecondition($"fake task: '{id}' is {p.Status}");
            }

            p.Status = TaskStatus.Running;
            return Task.FromResult(execId is null ? 101u : 102u);
        }

        public Task<TaskState> StateAsync(string id, string? execId, CancellationToken cancellationToken)
        {
            Enter("State", Key(id, execId));
            var p = Get(id, execId);
            return Task.FromResult(new TaskState { Id = id, Status = p.Status, Pid = 101, Exit = p.Exited.Task.IsCompleted ? p.Exited.Task.Result : null });
        }

        public Task<ExitStatus> WaitAsync(string id, string? execId, CancellationToken cancellationToken)
        {
            Enter("Wait", Key(id, execId));
            return Get(id, execId).Exited.Task.WaitAsync(cancellationToken);
        }

        public Task KillAsync(string id, string? execId, uint signal, bool all, CancellationToken cancellationToken)
        {
            Enter($"Kill{signal}", Key(id, execId));
            var p = Get(id, execId);
            if (p.Status is TaskStatus.Running or TaskStatus.Created)
            {
                p.Exit(128 + signal);
            }

            return Task.CompletedTask;
        }

        public Task<TaskDeleteResult> DeleteAsync(string id, string? execId, CancellationToken cancellationToken)
        {
            Enter("Delete", Key(id, execId));
            var p = Get(id, execId);
            if (p.Status == TaskStatus.Running)
            {
                throw IsolaException.FailedPrecondition($"fake task: cannot delete running '{Key(id, execId)}'");
            }

            service.Processes.TryRemove(Key(id, execId), out _);
            return Task.FromResult(new TaskDeleteResult(101, p.Exited.Task.IsCompleted ? p.Exited.Task.Result : new ExitStatus(0, DateTimeOffset.UtcNow)));
        }

        public Task ExecAsync(TaskExecRequest request, CancellationToken cancellationToken)
        {
            Enter("Exec", Key(request.Id, request.ExecId));
            if (Get(request.Id, null).Status != TaskStatus.Running)
            {
                throw IsolaException.FailedPrecondition($"fake task: '{request.Id}' is not running");
            }

            if (!service.Processes.TryAdd(Key(request.Id, request.ExecId), new FakeProcess(request.Id, request.ExecId, "", request.Stdio, request.ProcessSpecJson)))
            {
                throw IsolaException.AlreadyExists($"fake task: exec '{request.ExecId}' exists");
            }

            return Task.CompletedTask;
        }

        public Task ResizePtyAsync(string id, string? execId, uint width, uint height, CancellationToken cancellationToken) => Task.CompletedTask;

        public Task CloseIOAsync(string id, string? execId, CancellationToken cancellationToken) => Task.CompletedTask;

        public Task<IReadOnlyList<uint>> PidsAsync(string id, CancellationToken cancellationToken) => Task.FromResult<IReadOnlyList<uint>>([101]);

        public Task PauseAsync(string id, CancellationToken cancellationToken) => Task.CompletedTask;

        public Task ResumeAsync(string id, CancellationToken cancellationToken) => Task.CompletedTask;

        public Task UpdateAsync(string id, LinuxResources resources, IReadOnlyDictionary<string, string>? annotations, CancellationToken cancellationToken) => Task.CompletedTask;

        public Task<TaskStats> StatsAsync(string id, CancellationToken cancellationToken) => Task.FromResult(new TaskStats("", []));

        public Task<TaskConnectResult> ConnectAsync(string id, CancellationToken cancellationToken) => Task.FromResult(new TaskConnectResult(1, 101, "fake"));

        public Task ShutdownAsync(string id, bool now, CancellationToken cancellationToken) => Task.CompletedTask;

        public ValueTask DisposeAsync()
        {
            IsConnected = false;
            service.ClientDisposed.Release();
            return ValueTask.CompletedTask;
        }
    }
}
