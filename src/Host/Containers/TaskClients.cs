using Isola.Executors;
using Isola.Hosting.Plugins;
using Isola.Hosting.Sandboxes;
using Isola.Hosting.State;

namespace Isola.Hosting.Containers;

/// <summary>
/// One Task API client per sandbox, from the executor registered for its task address's scheme; reconnected when
/// the connection is lost or the sandbox reports a new address. Every call but Wait runs under Timeouts:Task.
/// </summary>
internal sealed class TaskClients(PluginCatalog plugins, TimeSpan taskTimeout) : IAsyncDisposable
{
    private readonly Dictionary<string, ITaskClient> _clients = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _gate = new(1, 1);

    /// <summary>The client for the sandbox's current task address.</summary>
    public async Task<ITaskClient> GetAsync(SandboxRecord record, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(record.TaskAddress))
        {
            throw IsolaException.FailedPrecondition($"sandbox '{record.Id}': it has no task address (state {record.State})");
        }

        var endpoint = TaskEndpoint.Parse(record.TaskAddress, record.TaskApiVersion);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_clients.Remove(record.Id, out var cached))
            {
                if (cached.IsConnected && cached.Endpoint.Address == endpoint.Address && cached.Endpoint.Version == endpoint.Version)
                {
                    _clients[record.Id] = cached;
                    return cached;
                }

                await DisposeQuietlyAsync(cached).ConfigureAwait(false);
            }

            ITaskExecutor executor;
            try
            {
                executor = plugins.GetExecutor(endpoint.Scheme);
            }
            catch (IsolaException e) when (e.Code == IsolaErrorCode.NotFound)
            {
                throw IsolaException.FailedPrecondition($"sandbox '{record.Id}': nothing serves its task address '{endpoint.Address}': {e.Message}");
            }

            var client = await Deadline.RunAsync($"sandbox '{record.Id}': executor '{executor.Name}' Connect to '{endpoint.Address}'",
                taskTimeout, ct => executor.ConnectAsync(endpoint, ct), cancellationToken).ConfigureAwait(false);
            _clients[record.Id] = client;
            return client;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Runs a Task API call under the task deadline; errors name the container and sandbox.</summary>
    public Task<T> CallAsync<T>(string sandboxId, string containerId, string operation, Func<CancellationToken, Task<T>> call,
        CancellationToken cancellationToken) =>
        Deadline.RunAsync($"container '{containerId}' in sandbox '{sandboxId}': Task {operation}", taskTimeout,
            ct => Named(sandboxId, containerId, operation, () => call(ct)), cancellationToken);

    /// <summary>As <see cref="CallAsync{T}"/>, without a result.</summary>
    public Task CallAsync(string sandboxId, string containerId, string operation, Func<CancellationToken, Task> call,
        CancellationToken cancellationToken) =>
        CallAsync(sandboxId, containerId, operation, async ct =>
        {
            await call(ct).ConfigureAwait(false);
            return true;
        }, cancellationToken);

    /// <summary>Makes sure a Task API error names the container, keeping its code.</summary>
    public static async Task<T> Named<T>(string sandboxId, string containerId, string operation, Func<Task<T>> call)
    {
        try
        {
            return await call().ConfigureAwait(false);
        }
        catch (IsolaException e) when (!e.Message.Contains($"'{containerId}'", StringComparison.Ordinal))
        {
            throw new IsolaException(e.Code, $"container '{containerId}' in sandbox '{sandboxId}': Task {operation}: {e.Message}", e);
        }
    }

    /// <summary>Closes the sandbox's client (after Stop or Remove).</summary>
    public async Task DropAsync(string sandboxId)
    {
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_clients.Remove(sandboxId, out var client))
            {
                await DisposeQuietlyAsync(client).ConfigureAwait(false);
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            foreach (var client in _clients.Values)
            {
                await DisposeQuietlyAsync(client).ConfigureAwait(false);
            }

            _clients.Clear();
        }
        finally
        {
            _gate.Release();
        }
    }

    private static async Task DisposeQuietlyAsync(ITaskClient client)
    {
        try
        {
            await client.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Closing a dead connection may fail; there is nothing left to release.
        }
    }
}
