using Isola.Executors;
using Isola.Hosting.Plugins;
using Isola.Hosting.State;
using Microsoft.Extensions.Logging;

namespace Isola.Hosting.Tasks;

/// <summary>
/// Executor routing: one Task API client per sandbox, from the executor registered for its task address's scheme; reconnected when
/// the connection is lost or the sandbox reports a new address. Every call but Wait runs under Timeouts:Task.
/// Connecting is serialised per sandbox only, so a slow task service stalls nobody else's containers.
/// </summary>
internal sealed class TaskRouting(PluginCatalog plugins, TimeSpan taskTimeout, ILogger logger) : IAsyncDisposable
{
    private readonly Dictionary<SandboxId, ITaskClient> _clients = new();
    private readonly KeyedGates _gates = new();
    private bool _disposed;

    /// <summary>Sandboxes with a connection attempt or drop in progress (for tests).</summary>
    internal int GateCount => _gates.Count;

    /// <summary>The client for the sandbox's current task address.</summary>
    public async Task<ITaskClient> GetAsync(SandboxRecord record, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(record.TaskAddress))
        {
            throw IsolaException.FailedPrecondition($"sandbox '{record.Id}': it has no task address (state {record.State})");
        }

        var endpoint = TaskEndpoint.Parse(record.TaskAddress, record.TaskApiVersion);
        using var gate = await _gates.EnterAsync(record.Id.Value, cancellationToken).ConfigureAwait(false);
        var cached = Take(record.Id);
        if (cached is not null)
        {
            if (cached.IsConnected && cached.Endpoint.Address == endpoint.Address && cached.Endpoint.Version == endpoint.Version)
            {
                Put(record.Id, cached);
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

        // A connect abandoned at its deadline may still complete: close that client when it does, or its socket and
        // read loop would live as long as the host.
        var client = await Deadline.RunAsync($"sandbox '{record.Id}': executor '{executor.Name}' Connect to '{endpoint.Address}'",
            taskTimeout, ct => executor.ConnectAsync(endpoint, ct), cancellationToken,
            late => _ = DisposeQuietlyAsync(late)).ConfigureAwait(false);
        if (!Put(record.Id, client))
        {
            await DisposeQuietlyAsync(client).ConfigureAwait(false);
            throw new ObjectDisposedException(nameof(TaskRouting));
        }

        await AttachStdioAsync(record, client, cancellationToken).ConfigureAwait(false);
        return client;
    }

    /// <summary>A new connection relays the streamed stdio of the sandbox's live containers again: their output, held
    /// by the task service while no host was connected, reaches the host's files from here on. A container whose
    /// stream cannot be opened still works; only its output waits for the next connection.</summary>
    private async Task AttachStdioAsync(SandboxRecord record, ITaskClient client, CancellationToken cancellationToken)
    {
        foreach (var container in record.Containers)
        {
            if (container is not { TaskStdio: { } taskStdio, State: ContainerState.Created or ContainerState.Running })
            {
                continue;
            }

            try
            {
                await Deadline.RunAsync($"container '{container.Id}' in sandbox '{record.Id}': attaching its stdio", taskTimeout,
                    ct => client.AttachStdioAsync(container.Id.Value, taskStdio, container.Stdio, ct), cancellationToken).ConfigureAwait(false);
            }
            catch (IsolaException e)
            {
                logger.LogWarning("{Error}", e.Message);
            }
        }
    }

    /// <summary>Runs a Task API call under the task deadline; errors name the container and sandbox.</summary>
    public Task<T> CallAsync<T>(SandboxId sandboxId, ContainerId containerId, string operation, Func<CancellationToken, Task<T>> call,
        CancellationToken cancellationToken) =>
        Deadline.RunAsync($"container '{containerId}' in sandbox '{sandboxId}': Task {operation}", taskTimeout,
            ct => Faults.CrashPoints.AroundAsync("task", operation, () => Named(sandboxId, containerId, operation, () => call(ct))), cancellationToken);

    /// <summary>As <see cref="CallAsync{T}"/>, without a result.</summary>
    public Task CallAsync(SandboxId sandboxId, ContainerId containerId, string operation, Func<CancellationToken, Task> call,
        CancellationToken cancellationToken) =>
        CallAsync(sandboxId, containerId, operation, async ct =>
        {
            await call(ct).ConfigureAwait(false);
            return true;
        }, cancellationToken);

    /// <summary>Makes sure a Task API error names the container, keeping its code.</summary>
    public static async Task<T> Named<T>(SandboxId sandboxId, ContainerId containerId, string operation, Func<Task<T>> call)
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

    /// <summary>Closes the sandbox's client (after Stop or Remove). Waits only for a connect to this sandbox in
    /// progress (bounded by Timeouts:Task), and only while <paramref name="cancellationToken"/> lets it.</summary>
    public async Task DropAsync(SandboxId sandboxId, CancellationToken cancellationToken = default)
    {
        using var gate = await _gates.EnterAsync(sandboxId.Value, cancellationToken).ConfigureAwait(false);
        if (Take(sandboxId) is { } client)
        {
            await DisposeQuietlyAsync(client).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        List<ITaskClient> all;
        lock (_clients)
        {
            _disposed = true;
            all = [.. _clients.Values];
            _clients.Clear();
        }

        foreach (var client in all)
        {
            await DisposeQuietlyAsync(client).ConfigureAwait(false);
        }
    }

    private ITaskClient? Take(SandboxId sandboxId)
    {
        lock (_clients)
        {
            return _clients.Remove(sandboxId, out var client) ? client : null;
        }
    }

    private bool Put(SandboxId sandboxId, ITaskClient client)
    {
        lock (_clients)
        {
            if (_disposed)
            {
                return false;
            }

            _clients[sandboxId] = client;
            return true;
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
