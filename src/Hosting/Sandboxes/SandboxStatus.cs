using Isola.Hosting.Configuration;
using Isola.Hosting.State;
using Microsoft.Extensions.Logging;

namespace Isola.Hosting.Sandboxes;

/// <summary>
/// Keeps a record true to what its controller says: Status for a sandbox an operation looks up or lists (and at
/// recovery), and the exit a Wait reports. A sandbox found gone is finished as a Stop.
/// </summary>
internal sealed class SandboxStatus(
    SandboxStore store,
    ControllerCalls controller,
    SandboxStopper stopper,
    ISandboxContainers containers,
    IsolaSettings settings,
    ILogger logger)
{
    /// <summary>How many sandboxes are reconciled (or refreshed for a listing) at once: enough to hide controller
    /// latency, few enough that a host with a thousand sandboxes does not open a thousand connections at once.</summary>
    internal const int RefreshConcurrency = 8;

    /// <summary>The record of a sandbox an operation is about to act on, by id or name; refreshed from its controller
    /// in a host with no background Waits. Throws NotFound when no sandbox has that id or name.</summary>
    public async Task<SandboxRecord> LookUpAsync(string idOrName, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(idOrName);
        // Names follow the id rule too, so a string that breaks it can name nothing: say so rather than "not found".
        IdValidator.Validate(idOrName, "sandbox");
        var record = store.Find(idOrName) ?? throw IsolaException.NotFound($"sandbox '{idOrName}' not found");
        if (settings.Recovery == RecoveryMode.OnDemand)
        {
            // No background Wait keeps this host's view current: ask the controller now, for the one sandbox the
            // caller is about to act on.
            // Removed meanwhile: hand out the handle anyway, as without the refresh; its operations say what is left
            // (Remove counts an already removed sandbox as removed).
            using var scope = await store.TryOpenAsync(record.Id, record.Generation, cancellationToken).ConfigureAwait(false);
            if (scope is not null)
            {
                await RefreshLockedAsync(scope, cancellationToken).ConfigureAwait(false);
                record = scope.Record;
            }
        }

        return record;
    }

    /// <summary>Every sandbox, as true as can be told when printed.</summary>
    public async Task<IReadOnlyList<SandboxInfo>> ListAsync(CancellationToken cancellationToken)
    {
        var records = store.LoadAll();
        // A long-lived host's background Waits keep its records current, but one may lag an exit by a moment: what a
        // listing prints must be true when printed, so a sandbox whose recorded process has ended is asked now (a read
        // of /proc per sandbox, no controller call for the others). A short-lived host has no Waits and asks all.
        var stale = settings.Recovery == RecoveryMode.OnDemand
            ? Enumerable.Range(0, records.Count).ToList()
            : [.. Enumerable.Range(0, records.Count).Where(i => !ProcessIdentity.MayBeAlive(records[i].Pid, records[i].PidStartTime))];
        if (stale.Count > 0)
        {
            await Parallel.ForEachAsync(stale,
                new ParallelOptions { MaxDegreeOfParallelism = RefreshConcurrency, CancellationToken = cancellationToken },
                async (i, ct) => records[i] = await RefreshForListingAsync(records[i], ct).ConfigureAwait(false)).ConfigureAwait(false);
        }

        return [.. records.Select(r => r.ToInfo())];
    }

    /// <summary>A listing's view of one sandbox: refreshed from its controller when it may be running and nobody is
    /// working on it; a sandbox whose lock is held is being changed by someone else and is shown as recorded.</summary>
    private async Task<SandboxRecord> RefreshForListingAsync(SandboxRecord record, CancellationToken cancellationToken)
    {
        if (record.State is not (SandboxState.Ready or SandboxState.Pending or SandboxState.Unknown))
        {
            return record;
        }

        IDisposable? lease;
        try
        {
            lease = store.Locks.TryAcquire(record.Id);
        }
        catch (IsolaException e)
        {
            // A lock that cannot be taken (a read-only state root) must not fail the whole listing: show the record.
            logger.LogWarning("sandbox '{Id}': status not refreshed: {Error}", record.Id, e.Message);
            return record;
        }

        if (lease is null)
        {
            return record;
        }

        SandboxScope scope;
        try
        {
            var current = store.Records.TryLoad(record.Id);
            if (current is null || current.Generation != record.Generation)
            {
                lease.Dispose();
                return record;
            }

            scope = new SandboxScope(lease, current, store.Handler(current), store.Records);
        }
        catch (Exception e) when (e is IsolaException or CorruptRecordException)
        {
            lease.Dispose();
            return record;
        }

        using (scope)
        {
            try
            {
                await RefreshLockedAsync(scope, cancellationToken).ConfigureAwait(false);
            }
            catch (IsolaException e)
            {
                logger.LogWarning("sandbox '{Id}': status not refreshed: {Error}", record.Id, e.Message);
            }

            return scope.Record;
        }
    }

    /// <summary>Asks Status and moves a Ready/Pending/Unknown record to what the controller says.</summary>
    public async Task RefreshLockedAsync(SandboxScope scope, CancellationToken cancellationToken)
    {
        var record = scope.Record;
        if (record.State is not (SandboxState.Ready or SandboxState.Pending or SandboxState.Unknown))
        {
            return;
        }

        try
        {
            var status = await controller.CallAsync(scope, "Status", (c, s, ct) => c.StatusAsync(s, false, ct), cancellationToken).ConfigureAwait(false);
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
                    store.Persist(record, SandboxState.Ready, "mark ready");
                }
                else
                {
                    store.Save(record);
                }

                await containers.RefreshAsync(scope, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                // Status tells when, not how, the sandbox ended; Wait tells how (it returns at once for an exited
                // sandbox). A controller that cannot say leaves the exit unknown rather than made up.
                var exit = record.Exit ?? await controller.ExitOfStoppedAsync(scope).ConfigureAwait(false);
                await stopper.ExitedLockedAsync(scope, exit, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (IsolaException.IsNotFound(e))
        {
            await stopper.ExitedLockedAsync(scope, null, cancellationToken).ConfigureAwait(false);
        }
        catch (IsolaException e) when (e.Code is IsolaErrorCode.Unavailable or IsolaErrorCode.DeadlineExceeded)
        {
            record.StatusError = e.Message;
            logger.LogWarning("sandbox '{Id}': {Error}", record.Id, e.Message);
            if (settings.Recovery == RecoveryMode.OnDemand && e.Code == IsolaErrorCode.DeadlineExceeded)
            {
                // No answer is not a fact worth persisting, and a host that lives for one command has no background
                // Wait to keep probing: the record keeps the state last known, shown with the reason. (Unavailable is
                // an answer: the sandbox should run and its controller cannot be reached, which is Pending.)
                return;
            }

            if (record.State != SandboxState.Pending)
            {
                store.Persist(record, SandboxState.Pending, "mark pending");
            }
        }
    }

    /// <summary>Records that a sandbox exited (exit null when the controller cannot say how).</summary>
    public async Task RecordExitAsync(SandboxId id, string generation, ExitStatus? exit, CancellationToken cancellationToken)
    {
        using var scope = await store.TryOpenAsync(id, generation, cancellationToken).ConfigureAwait(false);
        if (scope is null)
        {
            return;
        }

        var record = scope.Record;
        if (record.State is SandboxState.Ready or SandboxState.Pending or SandboxState.Unknown)
        {
            await stopper.ExitedLockedAsync(scope, exit, cancellationToken).ConfigureAwait(false);
        }
        else if (record.Exit is null && exit is not null && record.State is SandboxState.Stopping or SandboxState.Stopped)
        {
            record.Exit = exit;
            store.Save(record);
        }
    }
}
