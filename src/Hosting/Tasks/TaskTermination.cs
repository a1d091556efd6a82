using Isola.Executors;

namespace Isola.Hosting.Tasks;

/// <summary>
/// The one way the host ends a task process (a container's init or an exec): SIGTERM and a grace period when asked to
/// be gentle, then SIGKILL, then a Wait bounded by <see cref="KilledWait"/>, so a wedged task service cannot hold up a
/// Stop or Remove. Callers Delete afterwards: the Task API refuses to delete a process that still runs.
/// </summary>
internal static class TaskTermination
{
    /// <summary>How long to wait for a process to die after SIGKILL: milliseconds when the task service is healthy,
    /// and short enough that a wedged one does not hold a sandbox's Stop or Remove for the whole task deadline.</summary>
    public static readonly TimeSpan KilledWait = TimeSpan.FromSeconds(5);

    private const uint SigTerm = 15;
    private const uint SigKill = 9;

    /// <summary>SIGKILL, then Wait up to <see cref="KilledWait"/>. Returns the exit, or null when the process did not
    /// report one in time. <paramref name="execId"/> null means the container (and every process in it).</summary>
    public static async Task<ExitStatus?> KillAsync(TaskRouting tasks, ITaskClient client, SandboxId sandboxId, ContainerId containerId,
        ExecId? execId, CancellationToken cancellationToken)
    {
        await tasks.CallAsync(sandboxId, containerId, "Kill", ct => client.KillAsync(containerId.Value, execId?.Value, SigKill, execId is null, ct),
            cancellationToken).ConfigureAwait(false);
        return await BoundedWaitAsync(client, sandboxId, containerId, execId, KilledWait, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>SIGTERM, Wait up to <paramref name="grace"/>, then <see cref="KillAsync"/> if it still runs.</summary>
    public static async Task<ExitStatus?> StopAsync(TaskRouting tasks, ITaskClient client, SandboxId sandboxId, ContainerId containerId,
        TimeSpan grace, CancellationToken cancellationToken)
    {
        await tasks.CallAsync(sandboxId, containerId, "Kill", ct => client.KillAsync(containerId.Value, null, SigTerm, false, ct),
            cancellationToken).ConfigureAwait(false);
        if (await BoundedWaitAsync(client, sandboxId, containerId, null, grace, cancellationToken).ConfigureAwait(false) is { } exit)
        {
            return exit;
        }

        return await KillAsync(tasks, client, sandboxId, containerId, null, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Wait up to <paramref name="bound"/>: the exit, or null when the bound passed first (also when the task
    /// service blocks the calling thread: the wait runs under <see cref="Deadline"/>).</summary>
    private static async Task<ExitStatus?> BoundedWaitAsync(ITaskClient client, SandboxId sandboxId, ContainerId containerId, ExecId? execId,
        TimeSpan bound, CancellationToken cancellationToken)
    {
        try
        {
            return await Deadline.RunAsync($"container '{containerId}' in sandbox '{sandboxId}': Task Wait", bound,
                ct => TaskRouting.Named(sandboxId, containerId, "Wait", () => client.WaitAsync(containerId.Value, execId?.Value, ct)), cancellationToken)
                .ConfigureAwait(false);
        }
        catch (IsolaException e) when (e.Code == IsolaErrorCode.DeadlineExceeded)
        {
            return null;
        }
    }
}
