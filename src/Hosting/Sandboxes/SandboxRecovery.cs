using Isola.Hosting.Configuration;
using Isola.Hosting.State;
using Isola.Hosting.Tasks;
using Microsoft.Extensions.Logging;

namespace Isola.Hosting.Sandboxes;

/// <summary>Start-up recovery: quarantine unreadable records, finish half-done intents, re-arm background Waits.</summary>
internal sealed class SandboxRecovery(
    SandboxStore store,
    ControllerCalls controller,
    TaskRouting tasks,
    SandboxLifecycle lifecycle,
    SandboxStopper stopper,
    SandboxStatus status,
    SandboxMonitor monitor,
    ISandboxContainers containers,
    RuntimeTable runtimes,
    IsolaSettings settings,
    ILogger logger)
{
    private readonly List<string> _quarantined = [];

    /// <summary>The quarantined records found at the last recovery (<see cref="ISandboxes.QuarantinedRecords"/>).</summary>
    public IReadOnlyList<string> Quarantined
    {
        get
        {
            lock (_quarantined)
            {
                return [.. _quarantined];
            }
        }
    }

    /// <summary>Loads every record and reconciles it with its controller as <see cref="IsolaSettings.Recovery"/> says.
    /// Never fails the host's start for one sandbox: problems are logged and the record keeps a state that says what is
    /// known.</summary>
    public async Task RecoverAsync(CancellationToken cancellationToken)
    {
        store.Records.Initialize();
        var pending = new List<(SandboxId Id, string Generation)>();
        var records = new List<SandboxRecord>();
        foreach (var id in store.Records.ListIds())
        {
            SandboxRecord? record;
            try
            {
                record = store.Records.TryLoad(id);
            }
            catch (CorruptRecordException e)
            {
                var lease = store.Locks.TryAcquire(id);
                if (lease is not null)
                {
                    await QuarantineAsync(id, e, lease, cancellationToken).ConfigureAwait(false);
                }

                continue;
            }

            if (record is null)
            {
                store.DropEmptyLeftover(id, allocationLockHeld: false);

                continue;
            }

            records.Add(record);
            // A short-lived host finishes only what a crashed process left half-done; it asks the controller about
            // the other sandboxes when a command touches them.
            if (settings.Recovery == RecoveryMode.Full ||
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
            await Parallel.ForEachAsync(pending, new ParallelOptions { MaxDegreeOfParallelism = SandboxStatus.RefreshConcurrency, CancellationToken = cancellationToken },
                async (item, ct) => await RecoverOneAsync(item.Id, item.Generation, ct).ConfigureAwait(false)).ConfigureAwait(false);
        }
        lock (_quarantined)
        {
            _quarantined.Clear();
            _quarantined.AddRange(store.Records.ListQuarantined());
        }
    }

    /// <summary>
    /// A record that cannot be read is moved aside, never deleted; but what it ran must not run on unseen, with no
    /// record to stop or remove it by. So first the sandbox is shut down through its controller, from the record as it
    /// was before its last write (<see cref="StateStore.PreviousRecordFileName"/>): a shutdown finds what exists from
    /// whatever the older record knew, and counts what is already gone as done. Takes ownership of the lease.
    /// </summary>
    private async Task QuarantineAsync(SandboxId id, CorruptRecordException reason, IDisposable lease, CancellationToken cancellationToken)
    {
        var outcome = "no earlier copy of the record to shut it down by";
        using (lease)
        {
            if (store.Records.TryLoadPrevious(id) is { } previous)
            {
                outcome = await ShutDownUnreadableAsync(previous, lease, cancellationToken).ConfigureAwait(false);
            }

            store.Records.Quarantine(id, reason, outcome);
        }
    }

    private async Task<string> ShutDownUnreadableAsync(SandboxRecord previous, IDisposable lease, CancellationToken cancellationToken)
    {
        if (!runtimes.TryResolve(previous.Runtime, out var handler))
        {
            return $"its runtime '{previous.Runtime}' is not configured, so it was not shut down";
        }

        // Nothing may write the unreadable record meanwhile: it is evidence. Checkpoints go nowhere.
        var scope = new SandboxScope(lease, previous, handler, store.SandboxDirectory(previous.Id), checkpoint: () => { });
        try
        {
            await controller.CallAsync(scope, "Shutdown", (c, s, ct) => c.ShutdownAsync(s, ct), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (IsolaException.IsNotFound(e))
        {
        }
        catch (IsolaException e)
        {
            return $"shutting it down failed: {e.Message}";
        }

        await tasks.DropAsync(previous.Id, cancellationToken).ConfigureAwait(false);
        return $"shut down through runtime '{previous.Runtime}' from its previous record";
    }

    /// <summary>Makes the name index agree with the records: drops entries that own nothing (a crash between writing an
    /// entry and its record, or between removing them) and adds the entries of records that lack one. Under the
    /// allocation lock, and re-reading each record, so a create or remove running in another process is not undone.</summary>
    private async Task RepairNamesAsync(IReadOnlyList<SandboxRecord> records, CancellationToken cancellationToken)
    {
        // The usual case, one entry per record's name and no other: nothing to repair, so no allocation lock is taken
        // and no entry is read (a short-lived host starts for every isola command).
        if (store.Names.Names().ToHashSet(StringComparer.Ordinal).SetEquals(records.Select(r => r.Name)))
        {
            return;
        }

        using var global = await store.Locks.AcquireGlobalAsync(cancellationToken).ConfigureAwait(false);
        foreach (var name in store.Names.Names())
        {
            if (store.Names.Resolve(name) is null)
            {
                logger.LogInformation("name '{Name}': index entry owns no sandbox; dropped", name);
                store.Names.Drop(name);
            }
        }

        foreach (var record in records)
        {
            if (store.Names.ReadEntry(record.Name) is not null || store.TryLoad(record.Id) is not { State: not SandboxState.Removing } current ||
                current.Generation != record.Generation)
            {
                continue;
            }

            logger.LogInformation("sandbox '{Id}': name '{Name}' was missing from the index; restored", record.Id, record.Name);
            store.Names.Add(record.Name, record.Id);
        }
    }

    private async Task RecoverOneAsync(SandboxId id, string generation, CancellationToken cancellationToken)
    {
        // Another process holding the lock is alive (the kernel drops flock locks of dead processes) and will finish
        // its own operation: leave that sandbox alone.
        var lease = store.Locks.TryAcquire(id);
        if (lease is null)
        {
            return;
        }

        SandboxScope scope;
        try
        {
            var record = store.Records.TryLoad(id);
            if (record is null || record.Generation != generation)
            {
                lease.Dispose();
                return;
            }

            store.Records.DeleteStaleTempFiles(id);
            scope = new SandboxScope(lease, record, store.Handler(record), store.Records);
        }
        catch (Exception e)
        {
            lease.Dispose();
            logger.LogWarning("sandbox '{Id}': not recovered: {Error}", id, e.Message);
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
                logger.LogWarning("sandbox '{Id}': recovery from state {State} did not finish: {Error}", id, scope.Record.State, e.Message);
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
                logger.LogWarning("sandbox '{Id}': found in {State} after a restart; shutting it down", record.Id, record.State);
                store.Persist(record, SandboxState.Removing, "roll back");
                await lifecycle.ShutdownLockedAsync(scope, cancellationToken).ConfigureAwait(false);
                break;
            case SandboxState.Removing:
                await lifecycle.ShutdownLockedAsync(scope, cancellationToken).ConfigureAwait(false);
                break;
            case SandboxState.Stopping:
                await stopper.StopLockedAsync(scope, null, cancellationToken).ConfigureAwait(false);
                break;
            case SandboxState.Ready or SandboxState.Pending or SandboxState.Unknown:
                await status.RefreshLockedAsync(scope, cancellationToken).ConfigureAwait(false);
                if (record.State == SandboxState.Ready)
                {
                    await containers.UndoInterruptedCreatesAsync(scope, cancellationToken).ConfigureAwait(false);
                }

                if (record.State is SandboxState.Ready or SandboxState.Pending)
                {
                    monitor.Arm(record.Id, record.Generation);
                }


                break;
        }
    }
}
