using System.Collections.Concurrent;
using Isola.Executors;

namespace Isola.Plugins.Shim.Controller;

/// <summary>
/// One Task API connection per sandbox. Concurrent callers share a single connection attempt (a lazily started task),
/// so two racing calls never both connect and leak the loser; a lost or failed connection is replaced on next use.
/// </summary>
internal sealed class ShimClientCache : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, Entry> _entries = new();

    /// <summary>
    /// The connected client of <paramref name="sandboxId"/> at <paramref name="address"/>, connecting with
    /// <paramref name="connect"/> when there is none (or the cached one lost its connection or has another address).
    /// </summary>
    public async Task<ITaskClient> GetAsync(string sandboxId, string address, Func<Task<ITaskClient>> connect,
        CancellationToken cancellationToken)
    {
        while (true)
        {
            var entry = _entries.GetOrAdd(sandboxId, _ => new Entry(address, new Lazy<Task<ITaskClient>>(connect)));
            if (entry.Address != address)
            {
                await RemoveAsync(sandboxId, entry).ConfigureAwait(false);
                continue;
            }

            ITaskClient client;
            try
            {
                // The connection is shared: one caller giving up must not fail the others, so only the wait is cancelled.
                client = await entry.Client.Value.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception) when (entry.Client.Value.IsFaulted || entry.Client.Value.IsCanceled)
            {
                _entries.TryRemove(KeyValuePair.Create(sandboxId, entry));
                throw;
            }

            if (client.IsConnected)
            {
                return client;
            }

            await RemoveAsync(sandboxId, entry).ConfigureAwait(false);
        }
    }

    /// <summary>Closes and forgets the connection of <paramref name="sandboxId"/>, if any.</summary>
    public async Task ForgetAsync(string sandboxId)
    {
        if (_entries.TryGetValue(sandboxId, out var entry))
        {
            await RemoveAsync(sandboxId, entry).ConfigureAwait(false);
        }
    }

    /// <summary>Closes every connection.</summary>
    public async ValueTask DisposeAsync()
    {
        foreach (var id in _entries.Keys)
        {
            await ForgetAsync(id).ConfigureAwait(false);
        }
    }

    // Only the caller that removes the entry disposes its client, so a client is closed exactly once.
    private async Task RemoveAsync(string sandboxId, Entry entry)
    {
        if (!_entries.TryRemove(KeyValuePair.Create(sandboxId, entry)) || !entry.Client.IsValueCreated)
        {
            return;
        }

        try
        {
            var client = await entry.Client.Value.ConfigureAwait(false);
            await client.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is IsolaException or OperationCanceledException)
        {
            // the connection was never made
        }
    }

    private sealed record Entry(string Address, Lazy<Task<ITaskClient>> Client);
}
