using Isola.Executors;
using Microsoft.Extensions.Logging;

namespace Isola.Hosting.Containers;

internal sealed partial class Container
{
    /// <summary>
    /// Records the exit under the sandbox lock, then, with the lock released, deletes the exited task, as containerd's
    /// CRI does on a task's exit. A task service closes a container's IO only on Delete, so until then its log driver
    /// may still be copying the last output, and a caller reading the logs just after Wait would miss it. The
    /// container itself stays, Stopped, until removed. Outside the lock because Delete waits for the log driver to
    /// exit (the runc shim allows it 12 s), and other commands on the sandbox must not wait for that.
    /// </summary>
    private async Task RecordExitAsync(ExitStatus? exit, ITaskClient? client, CancellationToken cancellationToken)
    {
        bool sandboxReady;
        using (var scope = await services.Store.TryOpenAsync(sandbox.Id, sandbox.Generation, cancellationToken).ConfigureAwait(false))
        {
            var current = scope?.Record.Containers.FirstOrDefault(c => c.Id == Id);
            if (scope is null || current is null)
            {
                return;
            }

            Save(scope.Record, current with { State = ContainerState.Stopped, Pid = 0, Exit = exit ?? current.Exit });
            // A sandbox being stopped or removed meanwhile takes its tasks down itself, and may have dropped this client.
            sandboxReady = scope.Record.State == SandboxState.Ready;
        }

        if (client is not null && sandboxReady)
        {
            await DeleteExitedTaskAsync(client, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task DeleteExitedTaskAsync(ITaskClient client, CancellationToken cancellationToken)
    {
        try
        {
            await services.Tasks.CallAsync(SandboxId, Id, "Delete", ct => client.DeleteAsync(Id.Value, null, ct), cancellationToken)
                .ConfigureAwait(false);
        }
        catch (Exception e) when (e is IsolaException or ObjectDisposedException)
        {
            // NotFound: another waiter deleted it. Otherwise removing the container (or its sandbox) deletes the task
            // again; only the logs' last bytes may lag until then.
            if (!IsolaException.IsNotFound(e))
            {
                services.Logger.LogDebug("container '{Id}' in sandbox '{Sandbox}': Task Delete after exit failed: {Error}", Id, SandboxId, e.Message);
            }
        }
    }
}
