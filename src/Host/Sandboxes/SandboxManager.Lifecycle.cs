using Isola.Hosting.State;
using Microsoft.Extensions.Logging;

namespace Isola.Hosting.Sandboxes;

internal sealed partial class SandboxManager
{
    /// <summary>Allocates the id and name, persists Creating, calls Create and persists Created (in memory only for a
    /// caller that starts it at once); returns with the sandbox's lock held. On failure everything is rolled back
    /// (Shutdown, record and directory removed).</summary>
    private async Task<SandboxScope> CreateLockedAsync(SandboxSpec spec, CancellationToken cancellationToken, bool persistCreated = true)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var id = IdValidator.Validate(spec.Id ?? NewId(), "sandbox");
        var name = spec.Name ?? id;
        if (!IdValidator.IsValid(name))
        {
            throw IsolaException.InvalidArgument(
                $"invalid sandbox name '{name}': use 1-{IdValidator.MaxLength} letters, digits, '.', '_' or '-', not starting with '.' or '-'");
        }

        SandboxSpecRules.DnsServers(id, spec.DnsServers);
        var runtime = spec.Runtime ?? _runtimes.Default
            ?? throw IsolaException.InvalidArgument(
                $"sandbox '{id}': names no runtime, and there is no default runtime (configured: {Plugins.PluginCatalog.Known(_runtimes.Names)}); name one, or set Isola:DefaultRuntime");
        if (!_runtimes.TryResolve(runtime, out var handler))
        {
            throw IsolaException.InvalidArgument(
                $"sandbox '{id}': unknown runtime '{runtime}' (configured: {Plugins.PluginCatalog.Known(_runtimes.Names)})");
        }

        var now = DateTimeOffset.UtcNow;
        var record = new SandboxRecord
        {
            Generation = Guid.NewGuid().ToString("N"),
            Id = id,
            Name = name,
            Runtime = handler.Name, // the configured spelling, whatever case the caller used
            Controller = handler.ControllerName,
            State = SandboxState.Creating,
            Spec = spec with { Id = id, Name = name, Runtime = handler.Name },
            CreatedAt = now,
        };

        IDisposable lease;
        Store.Initialize();
        using (await Locks.AcquireGlobalAsync(cancellationToken).ConfigureAwait(false))
        {
            // The id and the name share one namespace: an id may not be another sandbox's name, nor a name another's id.
            if (TryLoad(id) is not null || Names.Resolve(id) is not null)
            {
                throw IsolaException.AlreadyExists($"sandbox '{id}' already exists");
            }

            if (name != id && (Names.Resolve(name) ?? TryLoad(name)) is { } owner)
            {
                throw IsolaException.AlreadyExists($"sandbox name '{name}' is already used by sandbox '{owner.Id}'");
            }

            if (Directory.Exists(Store.SandboxDirectory(id)) && !DropEmptyLeftover(id, allocationLockHeld: true))
            {
                throw IsolaException.AlreadyExists(
                    $"sandbox '{id}': its state directory '{Store.SandboxDirectory(id)}' exists without a readable record; remove or restore it first");
            }

            Store.CreateSandboxDirectory(id);
            lease = await Locks.AcquireNewAsync(id, cancellationToken).ConfigureAwait(false);
            try
            {
                Store.Save(record); // the intent, before any side effect
                Faults.CrashPoints.Reach("record:Creating");
                Names.Add(name, id);
            }
            catch
            {
                lease.Dispose();
                Names.Remove(name, id);
                Store.DeleteSandbox(id);
                throw;
            }
        }

        var scope = new SandboxScope(lease, record, handler, Store);
        try
        {
            await CallAsync(scope, "Create", (c, s, ct) => c.CreateAsync(s, ct), cancellationToken).ConfigureAwait(false);
            if (persistCreated)
            {
                Persist(record, SandboxState.Created, "create");
            }
            else
            {
                Transition(record, SandboxState.Created, "create");
            }

            _logger.LogInformation("sandbox '{Id}' created (runtime {Runtime})", id, runtime);
            return scope;
        }
        catch (Exception e)
        {
            await RollBackLockedAsync(scope, "Create", e).ConfigureAwait(false);
            scope.Dispose();
            throw;
        }
    }

    /// <summary>Created -> Starting -> Ready, with the lock held; a failed Start is rolled back with Shutdown.</summary>
    internal async Task StartLockedAsync(SandboxScope scope, CancellationToken cancellationToken)
    {
        var record = scope.Record;
        Persist(record, SandboxState.Starting, "start");
        try
        {
            var started = await CallAsync(scope, "Start", (c, s, ct) => c.StartAsync(s, ct), cancellationToken).ConfigureAwait(false);
            if (started.TaskAddress.Length > 0)
            {
                // A malformed address would only fail at the first container; refuse the start now, while it rolls back.
                Executors.TaskEndpoint.Parse(started.TaskAddress, started.TaskApiVersion);
            }

            record.Pid = started.Pid;
            record.PidStartTime = State.ProcessIdentity.StartTime(started.Pid);
            record.TaskAddress = started.TaskAddress;
            record.TaskApiVersion = started.TaskApiVersion;
            record.GuestBundleRoot = started.GuestBundleRoot;
            record.StartedAt = started.CreatedAt == default ? DateTimeOffset.UtcNow : started.CreatedAt;
            record.Exit = null;
            scope.Context.TaskAddress = started.TaskAddress;
            scope.Context.TaskApiVersion = started.TaskApiVersion;
            Persist(record, SandboxState.Ready, "start");
        }
        catch (Exception e)
        {
            await RollBackLockedAsync(scope, "Start", e).ConfigureAwait(false);
            throw;
        }

        _logger.LogInformation("sandbox '{Id}' ready at {Address} (pid {Pid})", record.Id, record.TaskAddress, record.Pid);
        ArmMonitor(record.Id, record.Generation);
    }

    /// <summary>Undoes a failed Create or Start: persist Removing, Shutdown, delete the record. A Shutdown that fails
    /// too leaves the record in Removing, so a later Remove or restart finishes the job instead of leaking.</summary>
    private async Task RollBackLockedAsync(SandboxScope scope, string failedOperation, Exception cause)
    {
        var record = scope.Record;
        _logger.LogWarning("sandbox '{Id}': {Operation} failed ({Error}); rolling back", record.Id, failedOperation, cause.Message);
        try
        {
            Persist(record, SandboxState.Removing, "roll back");
            await ShutdownLockedAsync(scope, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            _logger.LogError("sandbox '{Id}': rollback after a failed {Operation} did not finish ({Error}); the record stays in Removing",
                record.Id, failedOperation, e.Message);
        }
    }

    /// <summary>Shutdown (NotFound counts as done), then delete the record and directory. The state must be Removing.</summary>
    private async Task ShutdownLockedAsync(SandboxScope scope, CancellationToken cancellationToken)
    {
        var record = scope.Record;
        try
        {
            await CallAsync(scope, "Shutdown", (c, s, ct) => c.ShutdownAsync(s, ct), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (IsolaException.IsNotFound(e))
        {
        }

        CancelMonitor(record.Id);
        await TaskClients.DropAsync(record.Id, cancellationToken).ConfigureAwait(false);
        // The name goes first, under the allocation lock: a crash before the record is deleted leaves a record in
        // Removing without a name entry, which recovery puts back and then finishes removing.
        using (await Locks.AcquireGlobalAsync(CancellationToken.None).ConfigureAwait(false))
        {
            Names.Remove(record.Name, record.Id);
        }

        Store.DeleteSandbox(record.Id);
        _logger.LogInformation("sandbox '{Id}' removed", record.Id);
    }

    /// <summary>Stop under the lock: kill containers, persist Stopping, Stop (NotFound counts as done), persist Stopped
    /// (in memory only when <paramref name="persistStopped"/> is false: Remove writes Removing next). With
    /// <paramref name="askExit"/> false the caller already knows as much as there is to know about the exit: a Wait
    /// after this Stop would report the Stop's own kill, not how the sandbox ended.</summary>
    internal async Task StopLockedAsync(SandboxScope scope, TimeSpan? timeout, CancellationToken cancellationToken, bool persistStopped = true,
        bool askExit = true)
    {
        var record = scope.Record;
        if (record.State == SandboxState.Stopped)
        {
            return;
        }

        var wasRunning = askExit && record.State is not SandboxState.Created;
        Persist(record, SandboxState.Stopping, "stop");
        await KillContainersLockedAsync(record, cancellationToken).ConfigureAwait(false);
        var grace = timeout ?? _settings.StopTimeout;
        try
        {
            await CallAsync(scope, "Stop", (c, s, ct) => c.StopAsync(s, grace, ct), cancellationToken, _settings.ControllerTimeout + grace).ConfigureAwait(false);
        }
        catch (Exception e) when (IsolaException.IsNotFound(e))
        {
        }

        if (wasRunning)
        {
            record.Exit ??= await ExitOfStoppedAsync(scope).ConfigureAwait(false);
        }

        if (persistStopped)
        {
            Persist(record, SandboxState.Stopped, "stop");
            await TaskClients.DropAsync(record.Id, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            // The caller writes Removing (with the exit) next, before anything else; its Shutdown drops the clients.
            Transition(record, SandboxState.Stopped, "stop");
        }

        _logger.LogInformation("sandbox '{Id}' stopped", record.Id);
    }

    /// <summary>The sandbox exited on its own (its Wait returned, or Status says it is gone): record how, then finish it
    /// as a Stop does, so that no container outlives it (a pod's containers do not die with its pause) and the
    /// controller releases what the sandbox held. A Stop that cannot finish leaves Stopping, which the next Stop,
    /// Remove or recovery completes.</summary>
    internal async Task ExitedLockedAsync(SandboxScope scope, ExitStatus? exit, CancellationToken cancellationToken)
    {
        var record = scope.Record;
        record.Exit = exit ?? record.Exit;
        _logger.LogInformation("sandbox '{Id}' exited (status {Code}); stopping what is left of it", record.Id, record.Exit?.Code.ToString() ?? "unknown");
        await StopLockedAsync(scope, TimeSpan.Zero, cancellationToken, askExit: false).ConfigureAwait(false);
    }

    /// <summary>How a stopped sandbox exited: Wait returns at once for a stopped sandbox. Bounded tightly, and best
    /// effort: a controller that cannot tell leaves the exit unknown rather than holding up Stop or recovery.</summary>
    private Task<ExitStatus?> ExitOfStoppedAsync(SandboxScope scope) =>
        ExitOfStoppedAsync(scope.Record.Id, scope.Handler, scope.Context, CancellationToken.None);

    private async Task<ExitStatus?> ExitOfStoppedAsync(string id, Configuration.RuntimeHandler handler, Controllers.SandboxContext context,
        CancellationToken cancellationToken)
    {
        var bound = TimeSpan.FromSeconds(Math.Min(2, _settings.ControllerTimeout.TotalSeconds));
        try
        {
            return await Deadline.RunAsync($"sandbox '{id}': controller '{handler.ControllerName}' Wait", bound,
                ct => Named(id, "Wait", () => handler.Controller.WaitAsync(context, ct)), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IsolaException)
        {
            return null;
        }
    }

    /// <summary>Remove under the lock: stop first when needed, persist Removing, Shutdown, delete.</summary>
    internal async Task RemoveLockedAsync(SandboxScope scope, CancellationToken cancellationToken)
    {
        var record = scope.Record;
        if (record.State == SandboxState.Ready)
        {
            // While the task service still answers, take the containers down through it (Delete, then Purge).
            await Containers.ContainerRecovery.DeleteAllAsync(this, scope, cancellationToken).ConfigureAwait(false);
        }

        if (record.State is SandboxState.Ready or SandboxState.Pending or SandboxState.Unknown or SandboxState.Stopping)
        {
            // Stopped is not written: Removing (with the exit) follows at once, before Shutdown. A crash in between
            // leaves Stopping, which recovery finishes as a stop.
            await StopLockedAsync(scope, null, cancellationToken, persistStopped: false).ConfigureAwait(false);
        }

        if (record.State != SandboxState.Removing)
        {
            Persist(record, SandboxState.Removing, "remove");
        }

        await ShutdownLockedAsync(scope, cancellationToken).ConfigureAwait(false);
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
                var client = await TaskClients.GetAsync(record, cancellationToken).ConfigureAwait(false);
                exit = await Containers.TaskTermination.KillAsync(TaskClients, client, record.Id, container.Id, null, cancellationToken)
                    .ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                _logger.LogDebug("sandbox '{Id}': kill of container '{Container}' failed: {Error}", record.Id, container.Id, e.Message);
            }

            if (container.State is ContainerState.Unknown)
            {
                continue; // a creation that was interrupted: recovery or Remove undoes it (Task Delete, Purge, record)
            }

            record.Containers[i] = container with { State = ContainerState.Stopped, Pid = 0, Exit = exit ?? container.Exit };
        }

        Store.Save(record);
    }

    /// <summary>Deletes the directory of a creation that died before its first record write (nothing else was done
    /// for it), unless a live process holds its lock; true when the id is free again.</summary>
    private bool DropEmptyLeftover(string id, bool allocationLockHeld)
    {
        if (allocationLockHeld && !File.Exists(Store.LockPath(id)) && Store.IsEmptyLeftover(id))
        {
            // Died between creating the directory and its lock file. Both happen under the allocation lock, which the
            // caller holds, so no creation is in progress there.
            Store.DeleteSandbox(id);
            return true;
        }

        using var lease = Locks.TryAcquire(id);
        if (lease is null || !Store.IsEmptyLeftover(id))
        {
            return false;
        }

        Store.DeleteSandbox(id);
        return true;
    }

    private static string NewId() => Guid.NewGuid().ToString("N")[..16];
}
