namespace Isola.Hosting.State;

/// <summary>
/// One async mutual-exclusion gate per key, created on first use and dropped when its last user lets go, so a
/// long-running host that sees many sandboxes come and go keeps only the gates in use.
/// </summary>
internal sealed class KeyedGates
{
    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    /// <summary>How many keys have a gate now (users waiting or holding).</summary>
    public int Count
    {
        get
        {
            lock (_entries)
            {
                return _entries.Count;
            }
        }
    }

    /// <summary>Waits for the key's gate; dispose the result to let go.</summary>
    public async Task<IDisposable> EnterAsync(string key, CancellationToken cancellationToken)
    {
        var entry = Rent(key);
        try
        {
            await entry.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            Return(key, entry);
            throw;
        }

        return new Holder(this, key, entry);
    }

    /// <summary>Takes the key's gate if it is free now; null otherwise.</summary>
    public IDisposable? TryEnter(string key)
    {
        var entry = Rent(key);
        if (!entry.Gate.Wait(0))
        {
            Return(key, entry);
            return null;
        }

        return new Holder(this, key, entry);
    }

    private Entry Rent(string key)
    {
        lock (_entries)
        {
            if (!_entries.TryGetValue(key, out var entry))
            {
                entry = new Entry();
                _entries[key] = entry;
            }

            entry.Users++;
            return entry;
        }
    }

    private void Return(string key, Entry entry)
    {
        lock (_entries)
        {
            if (--entry.Users == 0)
            {
                _entries.Remove(key);
                entry.Gate.Dispose();
            }
        }
    }

    private sealed class Entry
    {
        public SemaphoreSlim Gate { get; } = new(1, 1);

        /// <summary>Holders and waiters; guarded by the dictionary's lock.</summary>
        public int Users { get; set; }
    }

    private sealed class Holder(KeyedGates owner, string key, Entry entry) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                entry.Gate.Release();
                owner.Return(key, entry);
            }
        }
    }
}
