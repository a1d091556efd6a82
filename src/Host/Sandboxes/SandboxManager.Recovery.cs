using Isola.Hosting.Configuration;
using Isola.Hosting.State;
using Microsoft.Extensions.Logging;

namespace Isola.Hosting.Sandboxes;

/// <summary>Start-up recovery: quarantine unreadable records, finish half-done intents, re-arm background Waits.</summary>
internal sealed partial class SandboxManager
{
    /// <summary>How many sandboxes are reconciled (or refreshed for a listing) at once: enough to hide controller
    /// latency, few enough that a host with a thousand sandboxes does not open a thousand connections at once.</summary>
    internal const int RefreshConcurrency = 8;

    /// <summary>Loads every record and reconciles it with its controller as <see cref="IsolaSettings.Recovery"/> says.
    /// Never fails the host's start for one sandbox: problems are logged and the record keeps a state that says what is
    /// known.</summary>
    internal async Task RecoverAsync(CancellationToken cancellationToken)
    {
        Store.Initialize();
        var pending = new List<(string Id, string Generation)>();
        var records = new List<SandboxRecord>();
        foreach (var id in Store.ListIds())
        {
            SandboxRecord? record;
            try
            {
                record = Store.TryLoad(id);
            }
            catch (CorruptRecordException e)
            {
                var lease = Locks.TryAcquire(id);
                if (lease is not null)
                {
                    await QuarantineAsync(id, e, lease, cancellationToken).ConfigureAwait(false);
                }

                continue;
            }

            if (record is null)
            {
                DropEmptyLeftover(id, allocationLockHeld: false);

                continue;
            }

            records.Add(record);
            // A short-lived host finishes only what a crashed process left half-done; it asks the controller about
            // the other sandboxes when a command touches them.
            if (_settings.Recovery == RecoveryMode.Full ||
                record.State is SandboxState.Creating or SandboxState.Starting or SandboxState.Stopping or SandboxState.Removing ||
                record.Containers.Any(c => c.State == ContainerState.Unknown))
            {
                pending.Add((id, record.Generation));
            }
        }

        await RepairNamesAsync(records, cancellationToken).ConfigureAwait(false);
        // Usually nothing is half-done; Parallel.ForEachAsync costs ~3.5 ms of a host start even over an empty list.
        cancellationToken.ThrowIfCancellationRequested();
        if (pending.Count > 0)
        {
            await Parallel.ForEachAsync(pending, new ParallelOptions { MaxDegreeOfParallelism = RefreshConcurrency, CancellationToken = cancellationToken },
                async (item, ct) => await RecoverOneAsync(item.Id, item.Generation, ct).ConfigureAwait(false)).ConfigureAwait(false);
        }
        lock (_quarantined)
        {
            _quarantined.Clear();
            _quarantined.AddRange(Store.ListQuarantined());
        }
    }

    /// <summary>
    /// A record that cannot be read is moved aside, never deleted; but what it ran must not run on unseen, with no
    /// record to stop or remove it by. So first the sandbox is shut down through its controller, from the record as it
    /// was before its last write (<see cref="StateStore.PreviousRecordFileName"/>): a shutdown finds what exists from
    /// whatever the older record knew, and counts what is already gone as done. Takes ownership of the lease.
    /// </summary>
    private async Task QuarantineAsync(string id, CorruptRecordException reason, IDisposable lease, CancellationToken cancellationToken)
    {
        var outcome = "no earlier copy of the record to shut it down by";
        using (lease)
        {
            if (Store.TryLoadPrevious(id) is { } previous)
            {
                outcome = await ShutDownUnreadableAsync(previous, lease, cancellationToken).ConfigureAwait(false);
            }

            Store.Quarantine(id, reason, outcome);
        }
    }

    private async Task<string> ShutDownUnreadableAsync(SandboxRecord previous, IDisposable lease, CancellationToken cancellationToken)
    {
        if (!_runtimes.TryResolve(previous.Runtime, out var handler))
        {
            return $"its runtime '{previous.Runtime}' is not configured, so it was not shut down";
        }

        // Nothing may write the unreadable record meanwhile: it is evidence. Checkpoints go nowhere.
        var scope = new SandboxScope(lease, previous, handler, Store.SandboxDirectory(previous.Id), checkpoint: () => { });
        try
        {
            await CallAsync(scope, "Shutdown", (c, s, ct) => c.ShutdownAsync(s, ct), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (IsolaException.IsNotFound(e))
        {
        }
        catch (IsolaException e)
        {
            return $"shutting it down failed: {e.Message}";
        }

        await TaskClients.DropAsync(previous.Id, cancellationToken).ConfigureAwait(false);
        return $"shut down through runtime '{previous.Runtime}' from its previous record";
    }

    /// <summary>Makes the name index agree with the records: drops entries that own nothing (a crash between writing an
    /// entry and its record, or between removing them) and adds the entries of records that lack one. Under the
    /// allocation lock, and re-reading each record, so a create or remove running in another process is not undone.</summary>
    private async Task RepairNamesAsync(IReadOnlyList<SandboxRecord> records, CancellationToken cancellationToken)
    {
        // The usual case, one entry per record's name and no other: nothing to repair, so no allocation lock is taken
        // and no entry is read (a short-lived host starts for every isola command).
        if (Names.Names().ToHashSet(StringComparer.Ordinal).SetEquals(records.Select(r => r.Name)))
        {
            return;
        }

        using var global = await Locks.AcquireGlobalAsync(cancellationToken).ConfigureAwait(false);
        foreach (var name in Names.Names())
        {
            if (Names.Resolve(name) is null)
            {
                _logger.LogInformation("name '{Name}': index entry owns no sandbox; dropped", name);
                Names.Drop(name);
            }
        }

        foreach (var record in records)
        {
            if (Names.ReadEntry(record.Name) is not null || TryLoad(record.Id) is not { State: not SandboxState.Removing } current ||
                current.Generation != record.Generation)
            {
                continue;
            }

            _logger.LogInformation("sandbox '{Id}': name '{Name}' was missing from the index; restored", record.Id, record.Name);
            Names.Add(record.Name, record.Id);
        }
    }

    private async Task RecoverOneAsync(string id, string generation, CancellationToken cancellationToken)
    {
        // Another process holding the lock is alive (the kernel drops flock locks of dead processes) and will finish
        // its own operation: leave that sandbox alone.
        var lease = Locks.TryAcquire(id);
        if (lease is null)
        {
            return;
        }

        SandboxScope scope;
        try
        {
            var record = Store.TryLoad(id);
            if (record is null || record.Generation != generation)
            {
                lease.Dispose();
                return;
            }

            Store.DeleteStaleTempFiles(id);
            scope = new SandboxScope(lease, record, Handler(record), Store);
        }
        catch (Exception e)
        {
            lease.Dispose();
            _logger.LogWarning("sandbox '{Id}': not recovered: {Error}", id, e.Message);
            return;
        }

        using (scope)
        {
            try
            {
                await ReconcileLockedAsync(scope, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                _logger.LogWarning("sandbox '{Id}': recovery from state {State} did not finish: {Error}", id, scope.Record.State, e.Message);
            }
        }
    }

    private async Task ReconcileLockedAsync(SandboxScope scope, CancellationToken cancellationToken)
    {
        var record = scope.Record;
        Faults.CrashPoints.Reach($"recovery:{record.State}");
        switch (record.State)
        {
            case SandboxState.Creating or SandboxState.Starting:
                _logger.LogWarning("sandbox '{Id}': found in {State} after a restart; shutting it down", record.Id, record.State);
                Persist(record, SandboxState.Removing, "roll back");
                await ShutdownLockedAsync(scope, cancellationToken).ConfigureAwait(false);
                break;
            case SandboxState.Removing:
                await ShutdownLockedAsync(scope, cancellationToken).ConfigureAwait(false);
                break;
            case SandboxState.Stopping:
                await StopLockedAsync(scope, null, cancellationToken).ConfigureAwait(false);
                break;
            case SandboxState.Ready or SandboxState.Pending or SandboxState.Unknown:
                await RefreshLockedAsync(scope, cancellationToken).ConfigureAwait(false);
                if (record.State == SandboxState.Ready)
                {
                    await Containers.ContainerRecovery.UndoInterruptedCreatesAsync(this, scope, cancellationToken).ConfigureAwait(false);
                }

                if (record.State is SandboxState.Ready or SandboxState.Pending)
                {
                    ArmMonitor(record.Id, record.Generation);
                }


                break;
        }
    }

    /// <summary>Asks Status and moves a Ready/Pending/Unknown record to what the controller says.</summary>
    internal async Task RefreshLockedAsync(SandboxScope scope, CancellationToken cancellationToken)
    {
        var record = scope.Record;
        if (record.State is not (SandboxState.Ready or SandboxState.Pending or SandboxState.Unknown))
        {
            return;
        }

        try
        {
            var status = await CallAsync(scope, "Status", (c, s, ct) => c.StatusAsync(s, false, ct), cancellationToken).ConfigureAwait(false);
            if (status.Ready)
            {
                record.StatusError = null;
                if (!string.IsNullOrEmpty(status.TaskAddress))
                {
                    record.TaskAddress = status.TaskAddress;
                    record.TaskApiVersion = status.TaskApiVersion == 0 ? record.TaskApiVersion : status.TaskApiVersion;
                }

                if (status.Pid != 0 && status.Pid != record.Pid)
                {
                    record.Pid = status.Pid;
                    record.PidStartTime = ProcessIdentity.StartTime(status.Pid);
                }
                if (record.State != SandboxState.Ready)
                {
                    Persist(record, SandboxState.Ready, "mark ready");
                }
                else
                {
                    Store.Save(record);
                }

                await Containers.ContainerRecovery.RefreshAsync(this, scope, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                // Status tells when, not how, the sandbox ended; Wait tells how (it returns at once for an exited
                // sandbox). A controller that cannot say leaves the exit unknown rather than made up.
                var exit = record.Exit ?? await ExitOfStoppedAsync(scope).ConfigureAwait(false);
                await ExitedLockedAsync(scope, exit, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (IsolaException.IsNotFound(e))
        {
            await ExitedLockedAsync(scope, null, cancellationToken).ConfigureAwait(false);
        }
        catch (IsolaException e) when (e.Code is IsolaErrorCode.Unavailable or IsolaErrorCode.DeadlineExceeded)
        {
            record.StatusError = e.Message;
            _logger.LogWarning("sandbox '{Id}': {Error}", record.Id, e.Message);
            if (_settings.Recovery == RecoveryMode.OnDemand && e.Code == IsolaErrorCode.DeadlineExceeded)
            {
                // No answer is not a fact worth persisting, and a host that lives for one command has no background
                // Wait to keep probing: the record keeps the state last known, shown with the reason. (Unavailable is
                // an answer: the sandbox should run and its controller cannot be reached, which is Pending.)
                return;
            }

            if (record.State != SandboxState.Pending)
            {
                Persist(record, SandboxState.Pending, "mark pending");
            }
        }
    }
}
