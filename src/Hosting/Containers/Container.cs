using Isola.Controllers;
using Isola.Executors;
using Isola.Hosting.Sandboxes;
using Isola.Hosting.State;
using Isola.Hosting.Tasks;
using TaskStatus = Isola.Executors.TaskStatus;

namespace Isola.Hosting.Containers;

/// <summary>A handle on one container, routed to its sandbox's executor. Record changes happen under the sandbox
/// lock; waiting for an exit does not hold it.</summary>
internal sealed partial class Container(ContainerServices services, Sandbox sandbox, ContainerInfo info) : IContainer
{
    private ContainerInfo _info = info;

    /// <inheritdoc />
    public ContainerId Id => _info.Id;

    /// <inheritdoc />
    public SandboxId SandboxId => sandbox.Id;

    /// <inheritdoc />
    public ContainerInfo Info => Volatile.Read(ref _info);

    /// <inheritdoc />
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        using var scope = await services.Store.OpenAsync(sandbox.Id, sandbox.Generation, cancellationToken).ConfigureAwait(false);
        var current = Find(scope.Record);
        Sandbox.RequireReady(scope.Record, $"start container '{Id}' in");
        if (current.State != ContainerState.Created)
        {
            throw IsolaException.FailedPrecondition($"container '{Id}' in sandbox '{SandboxId}': cannot start a container in state {current.State}");
        }

        var client = await services.Tasks.GetAsync(scope.Record, cancellationToken).ConfigureAwait(false);
        var started = await ContainerSet.StartLockedAsync(services, scope, current, client, cancellationToken).ConfigureAwait(false);
        Volatile.Write(ref _info, started);
        sandbox.Update(scope.Record.ToInfo());
    }

    /// <inheritdoc />
    public async Task<ExitStatus> WaitAsync(CancellationToken cancellationToken = default)
    {
        var record = Load();
        var current = Find(record);
        if (current.State == ContainerState.Stopped && current.Exit is { } known)
        {
            return known;
        }

        Sandbox.RequireReady(record, $"wait for container '{Id}' in");
        var client = await services.Tasks.GetAsync(record, cancellationToken).ConfigureAwait(false);
        ExitStatus exit;
        try
        {
            exit = await TaskRouting.Named(SandboxId, Id, "Wait", () => client.WaitAsync(Id.Value, null, cancellationToken)).ConfigureAwait(false);
        }
        catch (Exception e) when (IsolaException.IsNotFound(e) && Find(Load()) is { State: ContainerState.Stopped, Exit: { } recorded })
        {
            return recorded; // another waiter recorded the exit and deleted the task in between
        }

        await RecordExitAsync(exit, client, cancellationToken).ConfigureAwait(false);
        return exit;
    }

    /// <inheritdoc />
    public async Task KillAsync(uint signal = 15, bool all = false, CancellationToken cancellationToken = default)
    {
        var record = Load();
        Find(record);
        Sandbox.RequireReady(record, $"signal container '{Id}' in");
        var client = await services.Tasks.GetAsync(record, cancellationToken).ConfigureAwait(false);
        await services.Tasks.CallAsync(SandboxId, Id, "Kill", ct => client.KillAsync(Id.Value, null, signal, all, ct), cancellationToken)
            .ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task StopAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var record = Load();
        var current = Find(record);
        if (current.State is ContainerState.Stopped or ContainerState.Created || record.State != SandboxState.Ready)
        {
            return; // nothing runs: Stop is idempotent
        }

        var client = await services.Tasks.GetAsync(record, cancellationToken).ConfigureAwait(false);
        ExitStatus? exit;
        try
        {
            exit = await TaskTermination.StopAsync(services.Tasks, client, SandboxId, Id, timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (IsolaException.IsNotFound(e))
        {
            await RecordExitAsync(null, null, cancellationToken).ConfigureAwait(false);
            return;
        }

        if (exit is null)
        {
            throw IsolaException.DeadlineExceeded(
                $"container '{Id}' in sandbox '{SandboxId}': did not exit within {TaskTermination.KilledWait.TotalSeconds:0.###}s of SIGKILL");
        }

        await RecordExitAsync(exit, client, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<ExitStatus> ExecAsync(ExecSpec spec, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var execId = spec.ExecId ?? ExecId.New();
        var stdio = spec.Stdio ?? ContainerSet.DefaultExecStdio(services.Store, SandboxId, Id, execId);
        SandboxRecord record;
        StdioSpec taskStdio;
        string process;
        using (var scope = await services.Store.OpenAsync(sandbox.Id, sandbox.Generation, cancellationToken).ConfigureAwait(false))
        {
            record = scope.Record;
            var current = Find(record);
            Sandbox.RequireReady(record, $"exec in container '{Id}' of");
            if (current.State != ContainerState.Running)
            {
                throw IsolaException.FailedPrecondition($"container '{Id}' in sandbox '{SandboxId}': cannot exec in a container in state {current.State}");
            }

            var prepare = new PrepareRequest
            {
                ContainerId = Id, ExecId = execId, Container = current.Spec, OciSpec = OciSpecBuilder.BuildProcess(current.Spec, spec), Stdio = stdio,
            };
            var result = await services.Controller.CallAsync(scope, "Prepare", (c, s, ct) => c.PrepareAsync(s, prepare, ct), cancellationToken)
                .ConfigureAwait(false);
            // Serialised once, after Prepare: what the controller left in the process is what the task service runs.
            process = prepare.OciSpec.ToJsonString();
            services.Store.Save(record);
            taskStdio = result.Stdio ?? stdio;
        }

        var created = false;
        var exited = false;
        ITaskClient? client = null;
        try
        {
            client = await services.Tasks.GetAsync(record, cancellationToken).ConfigureAwait(false);
            var request = new TaskExecRequest
            {
                Id = Id.Value,
                ExecId = execId.Value,
                Terminal = spec.Terminal,
                Stdio = taskStdio,
                HostStdio = ReferenceEquals(taskStdio, stdio) ? null : stdio,
                ProcessSpecJson = process,
            };
            await services.Tasks.CallAsync(SandboxId, Id, "Exec", ct => client.ExecAsync(request, ct), cancellationToken).ConfigureAwait(false);
            created = true;
            await services.Tasks.CallAsync(SandboxId, Id, "Start", ct => client.StartAsync(Id.Value, execId.Value, ct), cancellationToken).ConfigureAwait(false);
            var exit = await TaskRouting.Named(SandboxId, Id, "Wait", () => client.WaitAsync(Id.Value, execId.Value, cancellationToken)).ConfigureAwait(false);
            exited = true;
            return exit;
        }
        finally
        {
            await CleanUpExecAsync(execId, client, created, exited).ConfigureAwait(false);
        }
    }

    /// <summary>Deletes and purges an exec. One that may still run (the caller gave up waiting, or a step failed after
    /// Exec) is killed first: the Task API refuses to delete a running process, and dropping the record would leave it
    /// running unseen.</summary>
    private async Task CleanUpExecAsync(ExecId execId, ITaskClient? client, bool created, bool exited)
    {
        if (created && client is not null)
        {
            if (!exited)
            {
                try
                {
                    await TaskTermination.KillAsync(services.Tasks, client, SandboxId, Id, execId, CancellationToken.None).ConfigureAwait(false);
                }
                catch (Exception e) when (e is IsolaException)
                {
                    // Not started or already gone: Delete below says which.
                }
            }

            try
            {
                await services.Tasks.CallAsync(SandboxId, Id, "Delete", ct => client.DeleteAsync(Id.Value, execId.Value, ct), CancellationToken.None)
                    .ConfigureAwait(false);
            }
            catch (Exception e) when (e is IsolaException)
            {
            }
        }

        using var scope = await services.Store.TryOpenAsync(sandbox.Id, sandbox.Generation, CancellationToken.None).ConfigureAwait(false);
        if (scope is not null)
        {
            try
            {
                await services.Controller.CallAsync(scope, "Purge", (c, s, ct) => c.PurgeAsync(s, new PurgeRequest(Id, execId), ct), CancellationToken.None)
                    .ConfigureAwait(false);
                services.Store.Save(scope.Record);
            }
            catch (Exception e) when (e is IsolaException)
            {
            }
        }
    }

    /// <inheritdoc />
    public async Task DeleteAsync(bool force = false, CancellationToken cancellationToken = default)
    {
        if (force)
        {
            try
            {
                await StopAsync(services.StopTimeout, cancellationToken).ConfigureAwait(false);
            }
            catch (IsolaException e) when (e.Code == IsolaErrorCode.NotFound)
            {
                return;
            }
        }

        using var scope = await services.Store.TryOpenAsync(sandbox.Id, sandbox.Generation, cancellationToken).ConfigureAwait(false);
        var current = scope?.Record.Containers.FirstOrDefault(c => c.Id == Id);
        if (scope is null || current is null)
        {
            return; // already gone
        }

        ITaskClient? client = null;
        if (scope.Record.State == SandboxState.Ready)
        {
            client = await services.Tasks.GetAsync(scope.Record, cancellationToken).ConfigureAwait(false);
            try
            {
                var state = await services.Tasks.CallAsync(SandboxId, Id, "State", ct => client.StateAsync(Id.Value, null, ct), cancellationToken)
                    .ConfigureAwait(false);
                if (state.Status is TaskStatus.Running or TaskStatus.Paused or TaskStatus.Pausing)
                {
                    throw IsolaException.FailedPrecondition(
                        $"container '{Id}' in sandbox '{SandboxId}' is running; stop it first or delete with force");
                }
            }
            catch (Exception e) when (IsolaException.IsNotFound(e))
            {
                client = null; // the task service has no such task: nothing to delete there
            }
        }

        await ContainerSet.UndoAsync(services, scope, Id, client, taskCreated: client is not null, prepared: true).ConfigureAwait(false);
        sandbox.Update(scope.Record.ToInfo());
    }

    /// <inheritdoc />
    public async Task<ContainerInfo> InspectAsync(CancellationToken cancellationToken = default)
    {
        using var scope = await services.Store.OpenAsync(sandbox.Id, sandbox.Generation, cancellationToken).ConfigureAwait(false);
        var current = Find(scope.Record);
        if (scope.Record.State == SandboxState.Ready && current.State != ContainerState.Stopped)
        {
            var client = await services.Tasks.GetAsync(scope.Record, cancellationToken).ConfigureAwait(false);
            var state = await services.Tasks.CallAsync(SandboxId, Id, "State", ct => client.StateAsync(Id.Value, null, ct), cancellationToken)
                .ConfigureAwait(false);
            current = current with
            {
                State = state.Status switch
                {
                    TaskStatus.Created => ContainerState.Created,
                    TaskStatus.Running => ContainerState.Running,
                    TaskStatus.Paused or TaskStatus.Pausing => ContainerState.Paused,
                    TaskStatus.Stopped => ContainerState.Stopped,
                    _ => ContainerState.Unknown,
                },
                Pid = state.Pid,
                Exit = state.Exit ?? current.Exit,
            };
            Save(scope.Record, current);
        }

        Volatile.Write(ref _info, current);
        return current;
    }

    private void Save(SandboxRecord record, ContainerInfo updated)
    {
        ContainerSet.Replace(record, updated);
        services.Store.Save(record);
        Volatile.Write(ref _info, updated);
        sandbox.Update(record.ToInfo());
    }

    private SandboxRecord Load()
    {
        var record = services.Store.TryLoad(sandbox.Id);
        return record is not null && record.Generation == sandbox.Generation
            ? record
            : throw IsolaException.NotFound($"sandbox '{sandbox.Id}' not found (it was removed)");
    }

    private ContainerInfo Find(SandboxRecord record) =>
        record.Containers.FirstOrDefault(c => c.Id == Id)
        ?? throw IsolaException.NotFound($"container '{Id}' not found in sandbox '{SandboxId}'");
}
