using Isola.Hosting.Configuration;
using Isola.Hosting.State;
using Isola.Hosting.Tasks;
using Microsoft.Extensions.Logging;

namespace Isola.Hosting.Sandboxes;

/// <summary>
/// Takes a sandbox down, under its lock: when asked to (Stop, and Remove first) and when it exited on its own (its
/// Wait returned, or Status says it is gone). Its containers are killed through the task service, then the
/// controller's Stop releases the rest.
/// </summary>
internal sealed class SandboxStopper(SandboxStore store, ControllerCalls controller, TaskRouting tasks, Networks.PodNetworks networks, IsolaSettings settings, ILogger logger)
{
    /// <summary>Stop under the lock: kill containers, persist Stopping, Stop (NotFound counts as done), persist Stopped
    /// (in memory only when <paramref name="persistStopped"/> is false: Remove writes Removing next). With
    /// <paramref name="askExit"/> false the caller already knows as much as there is to know about the exit: a Wait
    /// after this Stop would report the Stop's own kill, not how the sandbox ended.</summary>
    public async Task StopLockedAsync(SandboxScope scope, TimeSpan? timeout, CancellationToken cancellationToken, bool persistStopped = true,
        bool askExit = true)
    {
        var record = scope.Record;
        if (record.State == SandboxState.Stopped)
        {
            return;
        }

        var wasRunning = askExit && record.State is not SandboxState.Created;
        store.Persist(record, SandboxState.Stopping, "stop");
        await KillContainersLockedAsync(record, cancellationToken).ConfigureAwait(false);
        var grace = timeout ?? settings.StopTimeout;
        try
        {
            await controller.CallAsync(scope, "Stop", (c, s, ct) => c.StopAsync(s, grace, ct), cancellationToken, controller.Timeout + grace)
                .ConfigureAwait(false);
        }
        catch (Exception e) when (IsolaException.IsNotFound(e))
        {
        }

        if (wasRunning)
        {
            record.Exit ??= await controller.ExitOfStoppedAsync(scope).ConfigureAwait(false);
        }

        if (record.Network is not null)
        {
            // CNI DEL after the controller stopped the pod, as containerd does; a DEL that fails leaves Stopping, so the
            // next Stop, Remove or recovery runs it again.
            await networks.TearDownAsync(record.Id, cancellationToken).ConfigureAwait(false);
        }

        if (persistStopped)
        {
            store.Persist(record, SandboxState.Stopped, "stop");
            await tasks.DropAsync(record.Id, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            // The caller writes Removing (with the exit) next, before anything else; its Shutdown drops the clients.
            SandboxStore.Transition(record, SandboxState.Stopped, "stop");
        }

        logger.LogInformation("sandbox '{Id}' stopped", record.Id);
    }

    /// <summary>The sandbox exited on its own (its Wait returned, or Status says it is gone): record how, then finish it
    /// as a Stop does, so that no container outlives it (a pod's containers do not die with its pause) and the
    /// controller releases what the sandbox held. A Stop that cannot finish leaves Stopping, which the next Stop,
    /// Remove or recovery completes.</summary>
    public async Task ExitedLockedAsync(SandboxScope scope, ExitStatus? exit, CancellationToken cancellationToken)
    {
        var record = scope.Record;
        record.Exit = exit ?? record.Exit;
        logger.LogInformation("sandbox '{Id}' exited (status {Code}); stopping what is left of it", record.Id, record.Exit?.Code.ToString() ?? "unknown");
        await StopLockedAsync(scope, TimeSpan.Zero, cancellationToken, askExit: false).ConfigureAwait(false);
    }

    /// <summary>Containers die with their sandbox; killing them first (as CRI's StopPodSandbox does) lets the task
    /// service report their exits instead of losing them.</summary>
    private async Task KillContainersLockedAsync(SandboxRecord record, CancellationToken cancellationToken)
    {
        // Created ones too: their `runc init` waits in the pod's namespaces and cgroup until started or killed.
        var running = record.Containers.Where(c => c.State is ContainerState.Running or ContainerState.Paused or ContainerState.Unknown or ContainerState.Created)
            .ToList();
        if (running.Count == 0 || string.IsNullOrEmpty(record.TaskAddress))
        {
            return;
        }

        for (var i = 0; i < record.Containers.Count; i++)
        {
            var container = record.Containers[i];
            if (!running.Contains(container))
            {
                continue;
            }

            ExitStatus? exit = null;
            try
            {
                var client = await tasks.GetAsync(record, cancellationToken).ConfigureAwait(false);
                exit = await TaskTermination.KillAsync(tasks, client, record.Id, container.Id, null, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogDebug("sandbox '{Id}': kill of container '{Container}' failed: {Error}", record.Id, container.Id, e.Message);
            }

            if (container.State is ContainerState.Unknown)
            {
                continue; // a creation that was interrupted: recovery or Remove undoes it (Task Delete, Purge, record)
            }

            record.Containers[i] = container with { State = ContainerState.Stopped, Pid = 0, Exit = exit ?? container.Exit };
        }

        store.Save(record);
    }
}
