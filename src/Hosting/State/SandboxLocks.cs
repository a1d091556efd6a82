namespace Isola.Hosting.State;

/// <summary>
/// Serialises operations on one sandbox: a semaphore per id inside this process, plus the <c>lock</c> file in the
/// sandbox's directory across processes (two <c>isola rm</c> racing on one id run Shutdown once).
/// </summary>
internal sealed class SandboxLocks(StateStore store)
{
    private readonly KeyedGates _local = new();

    /// <summary>Ids with an in-process gate now: only those locked or waited for (for tests).</summary>
    internal int GateCount => _local.Count;

    /// <summary>Waits for the sandbox's lock. Null when the sandbox's directory does not exist (the sandbox is gone).</summary>
    public async Task<IDisposable?> AcquireAsync(SandboxId id, CancellationToken cancellationToken)
    {
        var gate = await _local.EnterAsync(id.Value, cancellationToken).ConfigureAwait(false);
        try
        {
            var file = await FileLock.AcquireAsync(store.LockPath(id), cancellationToken, MayCreate(id)).ConfigureAwait(false);
            return new Lease(gate, file);
        }
        catch (Exception e) when (e is DirectoryNotFoundException or FileNotFoundException)
        {
            gate.Dispose();
            return null;
        }
        catch (Exception e) when (IsUnusable(e))
        {
            gate.Dispose();
            throw Unusable(e);
        }
        catch
        {
            gate.Dispose();
            throw;
        }
    }

    /// <summary>Takes the lock only if nobody holds it; null when busy or the sandbox is gone.</summary>
    public IDisposable? TryAcquire(SandboxId id)
    {
        var gate = _local.TryEnter(id.Value);
        if (gate is null)
        {
            return null;
        }

        try
        {
            var file = FileLock.TryAcquire(store.LockPath(id), MayCreate(id));
            if (file is null)
            {
                gate.Dispose();
                return null;
            }

            return new Lease(gate, file);
        }
        catch (Exception e) when (e is DirectoryNotFoundException or FileNotFoundException)
        {
            gate.Dispose();
            return null;
        }
        catch (Exception e) when (IsUnusable(e))
        {
            gate.Dispose();
            throw Unusable(e);
        }
        catch
        {
            gate.Dispose();
            throw;
        }
    }

    /// <summary>Creates a sandbox's lock file only while its record exists: a waiter must not re-create the lock file
    /// inside a directory that the holder is deleting (Remove deletes the record first).</summary>
    private bool MayCreate(SandboxId id) => File.Exists(store.RecordPath(id));

    /// <summary>Takes the lock of a sandbox whose directory was just created, creating its lock file. A waiter left
    /// over from an earlier sandbox with the same id may hold the gate for a moment; it finds no record and lets go.</summary>
    public async Task<IDisposable> AcquireNewAsync(SandboxId id, CancellationToken cancellationToken)
    {
        var gate = await _local.EnterAsync(id.Value, cancellationToken).ConfigureAwait(false);
        try
        {
            var file = await FileLock.AcquireAsync(store.LockPath(id), cancellationToken, create: true).ConfigureAwait(false);
            return new Lease(gate, file);
        }
        catch (Exception e) when (IsUnusable(e))
        {
            gate.Dispose();
            throw Unusable(e);
        }
        catch
        {
            gate.Dispose();
            throw;
        }
    }

    /// <summary>Takes the lock serialising id and name allocation. Its file, directly under the state root, is the
    /// first thing a creation writes, so a root that cannot be written to is reported here, naming it.</summary>
    public async Task<IDisposable> AcquireGlobalAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await FileLock.AcquireAsync(store.GlobalLockPath, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (IsUnusable(e))
        {
            throw Unusable(e);
        }
    }

    /// <summary>A lock file that exists (or may be created) but cannot be opened or locked: a read-only or foreign
    /// state root, or no descriptors left. Unlike a missing file, that is not "the sandbox is gone".</summary>
    private static bool IsUnusable(Exception e) =>
        e is UnauthorizedAccessException or IOException and not (DirectoryNotFoundException or FileNotFoundException);

    private IsolaException Unusable(Exception e) =>
        new(IsolaErrorCode.FailedPrecondition, $"state root '{store.Root}' (Isola:Root): {e.Message}", e);

    private sealed class Lease(IDisposable gate, FileLock file) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                file.Dispose();
                gate.Dispose();
            }
        }
    }
}
