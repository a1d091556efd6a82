using Isola.Hosting.Configuration;
using Isola.Hosting.State;
using Microsoft.Extensions.Logging;

namespace Isola.Hosting.Sandboxes;

/// <summary>
/// The sandboxes as persisted: their records, their locks and their names, and the scope that holds a sandbox's lock
/// with its freshly loaded record. Every other service reaches the state root through this one.
/// </summary>
internal sealed class SandboxStore(StateStore records, RuntimeTable runtimes, ILogger logger)
{
    /// <summary>The records on disk.</summary>
    internal StateStore Records { get; } = records;

    /// <summary>The per-sandbox and allocation locks.</summary>
    internal SandboxLocks Locks { get; } = new(records);

    /// <summary>The name index.</summary>
    internal NameIndex Names { get; } = new(records);

    /// <summary>The sandbox's state directory.</summary>
    public string SandboxDirectory(SandboxId id) => Records.SandboxDirectory(id);

    /// <summary>Writes the record as it is (no state change; the caller holds the sandbox's lock).</summary>
    public void Save(SandboxRecord record) => Records.Save(record);

    /// <summary>The record with that id, or else the one with that name (through the name index: one file, not every
    /// record); null when neither exists.</summary>
    public SandboxRecord? Find(string idOrName)
    {
        if (!SandboxId.TryParse(idOrName, out var id))
        {
            return null;
        }

        return TryLoad(id) ?? Names.Resolve(idOrName);
    }

    /// <summary>Every readable record, sorted by creation time.</summary>
    public List<SandboxRecord> LoadAll() =>
        [.. Records.ListIds().Select(TryLoad).OfType<SandboxRecord>().OrderBy(r => r.CreatedAt).ThenBy(r => r.Id.Value, StringComparer.Ordinal)];

    /// <summary>Reads a record, or null when it is missing or unreadable (unreadable ones are quarantined at start).</summary>
    public SandboxRecord? TryLoad(SandboxId id)
    {
        try
        {
            return Records.TryLoad(id);
        }
        catch (CorruptRecordException e)
        {
            logger.LogWarning("{Message}", e.Message);
            return null;
        }
    }

    /// <summary>Locks the sandbox and reloads its record. Throws NotFound when it is gone (or was re-created under the
    /// same id, which <paramref name="generation"/> tells apart).</summary>
    public async Task<SandboxScope> OpenAsync(SandboxId id, string generation, CancellationToken cancellationToken)
    {
        return await TryOpenAsync(id, generation, cancellationToken).ConfigureAwait(false)
            ?? throw IsolaException.NotFound($"sandbox '{id}' not found (it was removed)");
    }

    /// <summary>As <see cref="OpenAsync"/>, but null when the sandbox is gone.</summary>
    public async Task<SandboxScope?> TryOpenAsync(SandboxId id, string? generation, CancellationToken cancellationToken)
    {
        var lease = await Locks.AcquireAsync(id, cancellationToken).ConfigureAwait(false);
        if (lease is null)
        {
            return null;
        }

        SandboxRecord? record;
        try
        {
            record = Records.TryLoad(id);
        }
        catch (CorruptRecordException e)
        {
            lease.Dispose();
            throw IsolaException.Internal($"sandbox '{id}': {e.Message}", e);
        }

        if (record is null || (generation is not null && record.Generation != generation))
        {
            lease.Dispose();
            return null;
        }

        try
        {
            return new SandboxScope(lease, record, Handler(record), Records);
        }
        catch
        {
            lease.Dispose();
            throw;
        }
    }

    /// <summary>The runtime handler of a record.</summary>
    public RuntimeHandler Handler(SandboxRecord record) =>
        runtimes.TryResolve(record.Runtime, out var handler)
            ? handler
            : throw IsolaException.FailedPrecondition(
                $"sandbox '{record.Id}': its runtime '{record.Runtime}' is not configured any more (add Isola:Runtimes:{record.Runtime})");

    /// <summary>Checks the transition, then writes the record in its new state.</summary>
    public void Persist(SandboxRecord record, SandboxState state, string operation)
    {
        Transition(record, state, operation);
        Records.Save(record);
        Faults.CrashPoints.Reach($"record:{state}");
    }

    /// <summary>Moves the record to <paramref name="state"/> in memory only, for a state the caller persists past
    /// at once (the next intent is written before any side effect).</summary>
    public static void Transition(SandboxRecord record, SandboxState state, string operation)
    {
        SandboxTransitions.Ensure(record.Id, operation, record.State, state);
        record.State = state;
    }

    /// <summary>Deletes the directory of a creation that died before its first record write (nothing else was done
    /// for it), unless a live process holds its lock; true when the id is free again.</summary>
    public bool DropEmptyLeftover(SandboxId id, bool allocationLockHeld)
    {
        if (allocationLockHeld && !File.Exists(Records.LockPath(id)) && Records.IsEmptyLeftover(id))
        {
            // Died between creating the directory and its lock file. Both happen under the allocation lock, which the
            // caller holds, so no creation is in progress there.
            Records.DeleteSandbox(id);
            return true;
        }

        using var lease = Locks.TryAcquire(id);
        if (lease is null || !Records.IsEmptyLeftover(id))
        {
            return false;
        }

        Records.DeleteSandbox(id);
        return true;
    }
}
