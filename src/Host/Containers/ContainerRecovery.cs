using Isola.Controllers;
using Isola.Hosting.Sandboxes;
using Microsoft.Extensions.Logging;

namespace Isola.Hosting.Containers;

/// <summary>
/// Start-up reconciliation of containers: a container still in <see cref="ContainerState.Unknown"/> is one whose
/// creation was interrupted after its record (the intent) was written. It is undone like a failed create: Task Delete
/// if the task service has it, Purge, record removed. Nothing else is touched.
/// </summary>
internal static class ContainerRecovery
{
    public static async Task UndoInterruptedCreatesAsync(SandboxManager manager, SandboxScope scope, CancellationToken cancellationToken)
    {
        var record = scope.Record;
        var interrupted = record.Containers.Where(c => c.State == ContainerState.Unknown).Select(c => c.Id).ToList();
        foreach (var id in interrupted)
        {
            manager.Logger.LogWarning("container '{Id}' in sandbox '{Sandbox}': its creation was interrupted; undoing it", id, record.Id);
            Executors.ITaskClient? client = null;
            var taskExists = false;
            try
            {
                client = await manager.TaskClients.GetAsync(record, cancellationToken).ConfigureAwait(false);
                await manager.TaskClients.CallAsync(record.Id, id, "State", ct => client.StateAsync(id, null, ct), cancellationToken)
                    .ConfigureAwait(false);
                taskExists = true;
            }
            catch (Exception e) when (e is IsolaException)
            {
                // NotFound: the task was never created. Unreachable: Purge and dropping the record still apply;
                // the task service dies with its sandbox.
            }

            await ContainerSet.UndoAsync(manager, scope, id, client, taskExists, prepared: true).ConfigureAwait(false);
        }
    }
}
