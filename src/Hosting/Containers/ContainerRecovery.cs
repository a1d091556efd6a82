using Isola.Controllers;
using Isola.Hosting.Sandboxes;
using Isola.Hosting.Tasks;
using Microsoft.Extensions.Logging;

namespace Isola.Hosting.Containers;

/// <summary>
/// Bulk container cleanup under the sandbox lock. Start-up reconciliation: a container still in <see cref="ContainerState.Unknown"/> is one whose
/// creation was interrupted after its record (the intent) was written. It is undone like a failed create: Task Delete
/// if the task service has it, Purge, record removed. Nothing else is touched.
/// </summary>
internal static class ContainerRecovery
{
    /// <summary>Before a Ready sandbox is removed: SIGKILL each container, wait for it, Task Delete, then Purge (the
    /// order the controller contract asks for), and drop the records. Best effort per container: Shutdown releases
    /// whatever is left.</summary>
    public static async Task DeleteAllAsync(ContainerServices services, SandboxScope scope, CancellationToken cancellationToken)
    {
        var record = scope.Record;
        foreach (var container in record.Containers.ToList())
        {
            Executors.ITaskClient? client = null;
            try
            {
                client = await services.Tasks.GetAsync(record, cancellationToken).ConfigureAwait(false);
                var task = client;
                var state = await services.Tasks.CallAsync(record.Id, container.Id, "State", ct => task.StateAsync(container.Id.Value, null, ct), cancellationToken)
                    .ConfigureAwait(false);
                if (state.Status is not (Executors.TaskStatus.Stopped or Executors.TaskStatus.Created))
                {
                    var exit = await TaskTermination.KillAsync(services.Tasks, task, record.Id, container.Id, null, cancellationToken)
                        .ConfigureAwait(false);
                    // Dead now: a crash before the record goes must not leave it saying Running.
                    ContainerSet.Replace(record, container with { State = ContainerState.Stopped, Pid = 0, Exit = exit ?? container.Exit });
                    services.Store.Save(record);
                }
            }
            catch (Exception e) when (e is IsolaException)
            {
                services.Logger.LogDebug("container '{Id}' in sandbox '{Sandbox}': {Error}", container.Id, record.Id, e.Message);
            }

            await ContainerSet.UndoAsync(services, scope, container.Id, client, taskCreated: client is not null, prepared: true).ConfigureAwait(false);
        }
    }

    /// <summary>Asks the task service about the containers the record says run, and records the exits it reports
    /// (an exit nobody was waiting for, or one a crash kept from being recorded): what a listing prints must be true.
    /// Best effort: an unreachable task service leaves the record as it is.</summary>
    public static async Task RefreshAsync(ContainerServices services, SandboxScope scope, CancellationToken cancellationToken)
    {
        var record = scope.Record;
        var live = record.Containers.Where(c => c.State is ContainerState.Running or ContainerState.Paused).ToList();
        if (live.Count == 0 || string.IsNullOrEmpty(record.TaskAddress))
        {
            return;
        }

        var changed = false;
        try
        {
            var client = await services.Tasks.GetAsync(record, cancellationToken).ConfigureAwait(false);
            foreach (var container in live)
            {
                ExitStatus? exit;
                try
                {
                    var state = await services.Tasks.CallAsync(record.Id, container.Id, "State", ct => client.StateAsync(container.Id.Value, null, ct),
                        cancellationToken).ConfigureAwait(false);
                    if (state.Status != Executors.TaskStatus.Stopped)
                    {
                        continue;
                    }

                    exit = state.Exit;
                }
                catch (Exception e) when (IsolaException.IsNotFound(e))
                {
                    exit = null; // gone from the task service: it ended, how is lost
                }

                ContainerSet.Replace(record, container with { State = ContainerState.Stopped, Pid = 0, Exit = exit ?? container.Exit });
                changed = true;
            }
        }
        catch (IsolaException e)
        {
            services.Logger.LogDebug("sandbox '{Sandbox}': containers not refreshed: {Error}", record.Id, e.Message);
        }

        if (changed)
        {
            services.Store.Save(record);
        }
    }

    public static async Task UndoInterruptedCreatesAsync(ContainerServices services, SandboxScope scope, CancellationToken cancellationToken)
    {
        var record = scope.Record;
        var interrupted = record.Containers.Where(c => c.State == ContainerState.Unknown).Select(c => c.Id).ToList();
        foreach (var id in interrupted)
        {
            services.Logger.LogWarning("container '{Id}' in sandbox '{Sandbox}': its creation was interrupted; undoing it", id, record.Id);
            Executors.ITaskClient? client = null;
            var taskExists = false;
            try
            {
                client = await services.Tasks.GetAsync(record, cancellationToken).ConfigureAwait(false);
                var task = client;
                var state = await services.Tasks.CallAsync(record.Id, id, "State", ct => task.StateAsync(id.Value, null, ct), cancellationToken)
                    .ConfigureAwait(false);
                taskExists = true;
                if (state.Status is not (Executors.TaskStatus.Stopped or Executors.TaskStatus.Created))
                {
                    // Interrupted after Task Start: it runs, and a running task cannot be deleted.
                    await TaskTermination.KillAsync(services.Tasks, task, record.Id, id, null, cancellationToken).ConfigureAwait(false);
                }
            }
            catch (Exception e) when (e is IsolaException)
            {
                // NotFound: the task was never created. Unreachable: Purge and dropping the record still apply;
                // the task service dies with its sandbox.
            }

            await ContainerSet.UndoAsync(services, scope, id, client, taskExists, prepared: true).ConfigureAwait(false);
        }
    }
}
