namespace Isola.Executors;

/// <summary>
/// A connection to one Task API (containerd.task.v2/v3) endpoint. Every call is bounded by its token; a lost
/// connection fails every pending call with <see cref="IsolaErrorCode.Unavailable"/>. Thread-safe: calls are
/// multiplexed on one connection.
/// </summary>
public interface ITaskClient : IAsyncDisposable
{
    /// <summary>The endpoint this client talks to.</summary>
    TaskEndpoint Endpoint { get; }

    /// <summary>True until the connection is lost or disposed.</summary>
    bool IsConnected { get; }

    /// <summary>Creates a task (a container's init process, not started).</summary>
    Task<uint> CreateAsync(TaskCreateRequest request, CancellationToken cancellationToken);

    /// <summary>Starts a task or exec process; returns its pid.</summary>
    Task<uint> StartAsync(string id, string? execId, CancellationToken cancellationToken);

    /// <summary>Reports a task's or exec process's state.</summary>
    Task<TaskState> StateAsync(string id, string? execId, CancellationToken cancellationToken);

    /// <summary>Blocks until a task or exec process exits.</summary>
    Task<ExitStatus> WaitAsync(string id, string? execId, CancellationToken cancellationToken);

    /// <summary>Sends a signal to a task or exec process (to all its processes when <paramref name="all"/>).</summary>
    Task KillAsync(string id, string? execId, uint signal, bool all, CancellationToken cancellationToken);

    /// <summary>Deletes an exited task or exec process and reports its exit.</summary>
    Task<TaskDeleteResult> DeleteAsync(string id, string? execId, CancellationToken cancellationToken);

    /// <summary>Relays a task's streamed stdio again, in a host process other than the one that created it (or after
    /// a reconnect): <paramref name="taskStdio"/> is what Create was given, <paramref name="hostStdio"/> the host's files.
    /// Output the task service held meanwhile arrives first. A no-op for stdio the task service writes itself (contract 1.2).</summary>
    Task AttachStdioAsync(string id, StdioSpec taskStdio, StdioSpec hostStdio, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Adds an exec process to a running task (start it with <see cref="StartAsync"/>).</summary>
    Task ExecAsync(TaskExecRequest request, CancellationToken cancellationToken);

    /// <summary>Resizes a process's terminal.</summary>
    Task ResizePtyAsync(string id, string? execId, uint width, uint height, CancellationToken cancellationToken);

    /// <summary>Closes a process's stdin.</summary>
    Task CloseIOAsync(string id, string? execId, CancellationToken cancellationToken);

    /// <summary>Lists the processes of a task.</summary>
    Task<IReadOnlyList<uint>> PidsAsync(string id, CancellationToken cancellationToken);

    /// <summary>Pauses a task.</summary>
    Task PauseAsync(string id, CancellationToken cancellationToken);

    /// <summary>Resumes a paused task.</summary>
    Task ResumeAsync(string id, CancellationToken cancellationToken);

    /// <summary>Changes a task's resources.</summary>
    Task UpdateAsync(string id, LinuxResources resources, IReadOnlyDictionary<string, string>? annotations, CancellationToken cancellationToken);

    /// <summary>Returns a task's statistics as the service encodes them (a protobuf Any).</summary>
    Task<TaskStats> StatsAsync(string id, CancellationToken cancellationToken);

    /// <summary>Reports the service's process id and the task's pid.</summary>
    Task<TaskConnectResult> ConnectAsync(string id, CancellationToken cancellationToken);

    /// <summary>Asks the service to exit (it may refuse while tasks remain, unless <paramref name="now"/>).</summary>
    Task ShutdownAsync(string id, bool now, CancellationToken cancellationToken);
}
