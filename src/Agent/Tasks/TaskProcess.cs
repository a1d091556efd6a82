using Isola.Agent.Processes;
using Isola.TaskApi.Protos.Types;

namespace Isola.Agent.Tasks;

/// <summary>A container's init process or one of its exec processes, as the Task API sees it.</summary>
internal sealed class TaskProcess
{
    private readonly TaskCompletionSource<ProcessExit> _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public TaskProcess(string containerId, string execId, string stdin, string stdout, string stderr)
    {
        ContainerId = containerId;
        ExecId = execId;
        Stdin = stdin;
        Stdout = stdout;
        Stderr = stderr;
    }

    public string ContainerId { get; }

    /// <summary>Empty for the init process.</summary>
    public string ExecId { get; }

    public string Stdin { get; }

    public string Stdout { get; }

    public string Stderr { get; }

    /// <summary>0 until runc has created it.</summary>
    public int Pid { get; private set; }

    /// <summary>True once the user process was started (runc start, or runc exec).</summary>
    public bool Started { get; set; }

    /// <summary>Completes when the process has exited and been reaped.</summary>
    public Task<ProcessExit> Exited => _exited.Task;

    public bool HasExited => _exited.Task.IsCompleted;

    /// <summary>"container 'id'" or "exec 'e' of container 'id'", for messages.</summary>
    public string Name => ExecId.Length == 0 ? $"container '{ContainerId}'" : $"exec '{ExecId}' of container '{ContainerId}'";

    public Status Status => HasExited ? Status.Stopped : Started ? Status.Running : Status.Created;

    /// <summary>The relays of the process's streamed stdio, if any; closed when the process is deleted.</summary>
    public IReadOnlyList<IDisposable> Relays { get; set; } = [];

    /// <summary>Closes the relays of streamed stdio.</summary>
    public void CloseRelays()
    {
        foreach (var relay in Relays)
        {
            relay.Dispose();
        }

        Relays = [];
    }

    /// <summary>Records the pid and follows <paramref name="exit"/>.</summary>
    public void Attach(int pid, Task<ProcessExit> exit)
    {
        Pid = pid;
        exit.ContinueWith(t => _exited.TrySetResult(t.Result), CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously | TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);
    }

    /// <summary>Marks a process that never ran (its start failed) as stopped, so that waiters return.</summary>
    public void NeverRan(uint status) => _exited.TrySetResult(new ProcessExit(status, DateTimeOffset.UtcNow));
}
