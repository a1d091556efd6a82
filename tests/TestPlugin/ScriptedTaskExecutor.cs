using System.Text.Json;
using Isola.Executors;
using TaskStatus = Isola.Executors.TaskStatus;

namespace Isola.TestPlugin;

/// <summary>
/// A task service for the "test" scheme (state in files under $TMPDIR/isola-testplugin-tasks/SANDBOX/, shared by
/// processes) that "runs" the process's args as a tiny script, so the command line can be
/// tested end to end without a container runtime: <c>echo WORDS</c> writes WORDS to stdout and exits 0;
/// <c>fail N</c> writes to stderr and exits N; <c>sleep</c> runs until killed; anything else exits 127. The args come
/// from the bundle's config.json (or the exec's process JSON), so they pass through the host's OCI spec.
/// </summary>
internal sealed class ScriptedTaskExecutor : ITaskExecutor
{
    public string Name => "scripted";

    public IReadOnlyCollection<string> Schemes { get; } = ["test"];

    public Task<ITaskClient> ConnectAsync(TaskEndpoint endpoint, CancellationToken cancellationToken) =>
        Task.FromResult<ITaskClient>(new Client(endpoint));

    /// <summary>Task state lives in files under the temp directory, so separate isola processes see the same tasks.</summary>
    private sealed class Client(TaskEndpoint endpoint) : ITaskClient
    {
        public static readonly string Base = Path.Combine(Path.GetTempPath(), "isola-testplugin-tasks");

        public TaskEndpoint Endpoint => endpoint;

        public bool IsConnected => true;

        private string Dir(string id, string? execId) =>
            execId is null ? Path.Combine(Base, endpoint.Target, id) : Path.Combine(Base, endpoint.Target, id, "execs", execId);

        private string Name(string id, string? execId) => execId is null ? id : $"{id}/{execId}";

        private string Status(string id, string? execId)
        {
            var file = Path.Combine(Dir(id, execId), "status");
            return File.Exists(file) ? File.ReadAllText(file) : throw IsolaException.NotFound($"scripted: task '{Name(id, execId)}' not found");
        }

        private void SetStatus(string id, string? execId, string status)
        {
            var dir = Dir(id, execId);
            File.WriteAllText(Path.Combine(dir, "status.tmp"), status);
            File.Move(Path.Combine(dir, "status.tmp"), Path.Combine(dir, "status"), overwrite: true);
        }

        private static ExitStatus? ExitOf(string status) =>
            status.StartsWith("exited:", StringComparison.Ordinal) ? new ExitStatus(uint.Parse(status["exited:".Length..]), DateTimeOffset.UtcNow) : null;

        private static string[] ArgsOf(JsonElement process) => [.. process.GetProperty("args").EnumerateArray().Select(a => a.GetString()!)];

        private void Add(string id, string? execId, string[] args, StdioSpec stdio)
        {
            var dir = Dir(id, execId);
            if (File.Exists(Path.Combine(dir, "status")))
            {
                throw IsolaException.AlreadyExists($"scripted: task '{Name(id, execId)}' exists");
            }

            Directory.CreateDirectory(dir);
            File.WriteAllText(Path.Combine(dir, "process.json"), JsonSerializer.Serialize(new[] { args, new[] { stdio.Stdout, stdio.Stderr } }));
            SetStatus(id, execId, "created");
        }

        public Task<uint> CreateAsync(TaskCreateRequest request, CancellationToken cancellationToken)
        {
            using var spec = JsonDocument.Parse(File.ReadAllText(Path.Combine(request.Bundle, "config.json")));
            Add(request.Id, null, ArgsOf(spec.RootElement.GetProperty("process")), request.Stdio);
            return Task.FromResult(1u);
        }

        public Task ExecAsync(TaskExecRequest request, CancellationToken cancellationToken)
        {
            if (Status(request.Id, null) != "running")
            {
                throw IsolaException.FailedPrecondition($"scripted: task '{request.Id}' is not running");
            }

            using var process = JsonDocument.Parse(request.ProcessSpecJson);
            Add(request.Id, request.ExecId, ArgsOf(process.RootElement), request.Stdio);
            return Task.CompletedTask;
        }

        public Task<uint> StartAsync(string id, string? execId, CancellationToken cancellationToken)
        {
            if (Status(id, execId) != "created")
            {
                throw IsolaException.FailedPrecondition($"scripted: task '{Name(id, execId)}' is {Status(id, execId)}");
            }

            var saved = JsonSerializer.Deserialize<string[][]>(File.ReadAllText(Path.Combine(Dir(id, execId), "process.json")))!;
            var (args, stdout, stderr) = (saved[0], saved[1][0], saved[1][1]);
            switch (args[0])
            {
                case "echo":
                    Write(stdout, string.Join(' ', args.Skip(1)) + "\n");
                    SetStatus(id, execId, "exited:0");
                    break;
                case "fail":
                    Write(stderr, "failing\n");
                    SetStatus(id, execId, $"exited:{uint.Parse(args[1])}");
                    break;
                case "sleep":
                    SetStatus(id, execId, "running");
                    break;
                default:
                    Write(stderr, $"{args[0]}: not found\n");
                    SetStatus(id, execId, "exited:127");
                    break;
            }

            return Task.FromResult(2u);
        }

        private static void Write(string url, string text)
        {
            if (url.StartsWith("file://", StringComparison.Ordinal))
            {
                File.AppendAllText(url["file://".Length..], text);
            }
        }

        public Task<TaskState> StateAsync(string id, string? execId, CancellationToken cancellationToken)
        {
            var status = Status(id, execId);
            var state = status switch { "created" => TaskStatus.Created, "running" => TaskStatus.Running, _ => TaskStatus.Stopped };
            return Task.FromResult(new TaskState { Id = id, Status = state, Pid = 2, Exit = ExitOf(status) });
        }

        public async Task<ExitStatus> WaitAsync(string id, string? execId, CancellationToken cancellationToken)
        {
            while (true)
            {
                if (ExitOf(Status(id, execId)) is { } exit)
                {
                    return exit;
                }

                await Task.Delay(20, cancellationToken).ConfigureAwait(false);
            }
        }

        public Task KillAsync(string id, string? execId, uint signal, bool all, CancellationToken cancellationToken)
        {
            if (ExitOf(Status(id, execId)) is null)
            {
                SetStatus(id, execId, $"exited:{128 + signal}");
            }

            return Task.CompletedTask;
        }

        public Task<TaskDeleteResult> DeleteAsync(string id, string? execId, CancellationToken cancellationToken)
        {
            var status = Status(id, execId);
            if (status == "running")
            {
                throw IsolaException.FailedPrecondition($"scripted: task '{Name(id, execId)}' is running");
            }

            Directory.Delete(Dir(id, execId), recursive: true);
            return Task.FromResult(new TaskDeleteResult(2, ExitOf(status) ?? new ExitStatus(0, DateTimeOffset.UtcNow)));
        }

        private static Exception NotHere(string what) => new IsolaException(IsolaErrorCode.Unimplemented, $"scripted: {what} is not implemented");

        public Task ResizePtyAsync(string id, string? execId, uint width, uint height, CancellationToken cancellationToken) => throw NotHere("ResizePty");

        public Task CloseIOAsync(string id, string? execId, CancellationToken cancellationToken) => Task.CompletedTask;

        public Task<IReadOnlyList<uint>> PidsAsync(string id, CancellationToken cancellationToken) => Task.FromResult<IReadOnlyList<uint>>([2]);

        public Task PauseAsync(string id, CancellationToken cancellationToken) => throw NotHere("Pause");

        public Task ResumeAsync(string id, CancellationToken cancellationToken) => throw NotHere("Resume");

        public Task UpdateAsync(string id, LinuxResources resources, IReadOnlyDictionary<string, string>? annotations, CancellationToken cancellationToken) =>
            throw NotHere("Update");

        public Task<TaskStats> StatsAsync(string id, CancellationToken cancellationToken) => throw NotHere("Stats");

        public Task<TaskConnectResult> ConnectAsync(string id, CancellationToken cancellationToken) =>
            Task.FromResult(new TaskConnectResult((uint)Environment.ProcessId, 2, "scripted"));

        public Task ShutdownAsync(string id, bool now, CancellationToken cancellationToken) => Task.CompletedTask;

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
