namespace Isola.Scripting;

/// <summary>
/// A sandbox that is stopped and removed when disposed: <c>await using var pod = await Isola.Sandboxes.RunScopedAsync(spec, Ct);</c>.
/// Disposal runs whether the workflow finished, failed or was cancelled, and does not use the (possibly cancelled)
/// caller's token: it has its own deadline, <see cref="TeardownDeadline"/>.
/// </summary>
public sealed class ScopedSandbox : ISandbox, IAsyncDisposable
{
    private readonly ISandbox _inner;
    private readonly TimeSpan? _stopTimeout;
    private int _state; // 0 owned, 1 detached, 2 disposed

    internal ScopedSandbox(ISandbox inner, TimeSpan? stopTimeout)
    {
        _inner = inner;
        _stopTimeout = stopTimeout;
    }

    /// <summary>The longest a teardown may take before it gives up with an error naming the sandbox.</summary>
    public static TimeSpan TeardownDeadline { get; } = TimeSpan.FromMinutes(2);

    /// <inheritdoc/>
    public SandboxId Id => _inner.Id;

    /// <inheritdoc/>
    public string Name => _inner.Name;

    /// <inheritdoc/>
    public SandboxInfo Info => _inner.Info;

    /// <inheritdoc/>
    public IContainers Containers => _inner.Containers;

    /// <summary>Keeps the sandbox running after disposal (the workflow hands it over to someone else).</summary>
    public ISandbox Detach()
    {
        Interlocked.CompareExchange(ref _state, 1, 0);
        return _inner;
    }

    /// <summary>Stops (gracefully, up to the stop timeout) and removes the sandbox unless detached. Idempotent.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.CompareExchange(ref _state, 2, 0) != 0)
        {
            return;
        }

        using var deadline = new CancellationTokenSource(TeardownDeadline);
        try
        {
            await _inner.StopAsync(_stopTimeout, deadline.Token).ConfigureAwait(false);
            await _inner.RemoveAsync(deadline.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (IsolaException.IsNotFound(e))
        {
            // Already gone: that is what teardown wants.
        }
        catch (OperationCanceledException e) when (deadline.IsCancellationRequested)
        {
            throw IsolaException.DeadlineExceeded($"sandbox '{_inner.Id}': teardown did not finish within {TeardownDeadline}", e);
        }
    }

    /// <inheritdoc/>
    public Task StartAsync(CancellationToken cancellationToken = default) => _inner.StartAsync(cancellationToken);

    /// <inheritdoc/>
    public Task<SandboxInfo> InspectAsync(CancellationToken cancellationToken = default) => _inner.InspectAsync(cancellationToken);

    /// <inheritdoc/>
    public Task StopAsync(TimeSpan? timeout = null, CancellationToken cancellationToken = default) =>
        _inner.StopAsync(timeout, cancellationToken);

    /// <inheritdoc/>
    public Task RemoveAsync(CancellationToken cancellationToken = default) => _inner.RemoveAsync(cancellationToken);

    /// <inheritdoc/>
    public Task<ExitStatus> WaitAsync(CancellationToken cancellationToken = default) => _inner.WaitAsync(cancellationToken);

    /// <inheritdoc/>
    public Task UpdateResourcesAsync(LinuxResources resources, CancellationToken cancellationToken = default) =>
        _inner.UpdateResourcesAsync(resources, cancellationToken);

    /// <inheritdoc/>
    public Task<PlatformInfo> PlatformAsync(CancellationToken cancellationToken = default) => _inner.PlatformAsync(cancellationToken);

    /// <inheritdoc />
    public Task<Controllers.PrepareResult> PrepareAsync(Controllers.PrepareRequest request, CancellationToken cancellationToken = default) =>
        _inner.PrepareAsync(request, cancellationToken);

    /// <inheritdoc />
    public Task PurgeAsync(Controllers.PurgeRequest request, CancellationToken cancellationToken = default) =>
        _inner.PurgeAsync(request, cancellationToken);
}
