using Isola.Controllers;
using Isola.Hosting.Configuration;
using Microsoft.Extensions.Logging;

namespace Isola.Hosting.Sandboxes;

/// <summary>The background Wait of every Ready sandbox: records exits, and survives a controller that goes away.</summary>
internal sealed class SandboxMonitor(SandboxStore store, ControllerCalls controller, SandboxStatus sandboxStatus, RuntimeTable runtimes,
    IsolaSettings settings, ILogger logger) : IAsyncDisposable
{
    private static readonly TimeSpan FirstRetry = TimeSpan.FromMilliseconds(100);
    private readonly Dictionary<SandboxId, (CancellationTokenSource Cancel, Task Loop)> _monitors = new();
    private readonly CancellationTokenSource _disposing = new();

    /// <summary>Starts the background Wait of a sandbox unless one runs already. A short-lived host
    /// (<see cref="RecoveryMode.OnDemand"/>) arms none: it would be torn down before the sandbox exits.</summary>
    public void Arm(SandboxId id, string generation)
    {
        if (settings.Recovery == RecoveryMode.OnDemand)
        {
            return;
        }

        lock (_monitors)
        {
            if (_disposing.IsCancellationRequested || _monitors.TryGetValue(id, out var existing) && !existing.Loop.IsCompleted)
            {
                return;
            }

            var cancel = CancellationTokenSource.CreateLinkedTokenSource(_disposing.Token);
            var loop = Task.Run(async () =>
            {
                try
                {
                    await MonitorAsync(id, generation, cancel.Token).ConfigureAwait(false);
                }
                finally
                {
                    Forget(id, cancel);
                }
            });
            _monitors[id] = (cancel, loop);
        }
    }

    /// <summary>How many background Waits are registered (for tests).</summary>
    internal int Count
    {
        get
        {
            lock (_monitors)
            {
                return _monitors.Count;
            }
        }
    }

    /// <summary>A finished loop lets go of its entry (unless a newer loop replaced it) and of its token source, so a
    /// long-running host does not keep one of each per sandbox it ever saw.</summary>
    private void Forget(SandboxId id, CancellationTokenSource cancel)
    {
        lock (_monitors)
        {
            // Entered after Arm stored the entry (it holds this lock) and after any Cancel().
            if (_monitors.TryGetValue(id, out var current) && ReferenceEquals(current.Cancel, cancel))
            {
                _monitors.Remove(id);
            }
        }

        cancel.Dispose();
    }

    /// <summary>True while a background Wait runs for the sandbox (for tests and diagnostics).</summary>
    internal bool IsMonitored(SandboxId id)
    {
        lock (_monitors)
        {
            return _monitors.TryGetValue(id, out var m) && !m.Loop.IsCompleted;
        }
    }

    /// <summary>Stops the sandbox's background Wait (it is being removed).</summary>
    public void Cancel(SandboxId id)
    {
        lock (_monitors)
        {
            if (_monitors.Remove(id, out var monitor))
            {
                monitor.Cancel.Cancel();
            }
        }
    }

    /// <summary>Stops every background Wait; one whose controller ignores cancellation is given up on after a grace.</summary>
    public async ValueTask DisposeAsync()
    {
        List<Task> loops;
        lock (_monitors)
        {
            _disposing.Cancel();
            loops = [.. _monitors.Values.Select(m => m.Loop)];
            _monitors.Clear();
        }

        try
        {
            // A plugin whose Wait ignores its token must not keep the host (and the isola command) from exiting.
            await Task.WhenAll(loops).WaitAsync(MonitorShutdownGrace).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            logger.LogWarning("background Waits did not stop within {Grace}; a controller ignores cancellation", MonitorShutdownGrace);
        }
    }

    private static readonly TimeSpan MonitorShutdownGrace = TimeSpan.FromSeconds(5);

    /// <summary>A capped, jittered exponential backoff: many hosts losing one runtime do not retry in lockstep.</summary>
    internal static TimeSpan Backoff(int attempt, TimeSpan cap)
    {
        var exponential = FirstRetry.TotalMilliseconds * Math.Pow(2, Math.Min(attempt, 20));
        var capped = Math.Min(exponential, cap.TotalMilliseconds);
        return TimeSpan.FromMilliseconds(capped * (0.5 + Random.Shared.NextDouble() * 0.5));
    }

    private async Task MonitorAsync(SandboxId id, string generation, CancellationToken cancellationToken)
    {
        var attempt = 0;
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                var record = store.TryLoad(id);
                if (record is null || record.Generation != generation || record.State is not (SandboxState.Ready or SandboxState.Pending))
                {
                    return;
                }

                if (!runtimes.TryResolve(record.Runtime, out var handler))
                {
                    return;
                }

                var context = SandboxContexts.FromRecord(record, store.SandboxDirectory(id), shareControllerData: false);
                if (record.State == SandboxState.Pending)
                {
                    // Only Status tells that the runtime is back; Wait would just block.
                    var probe = await ProbeAsync(id, generation, handler, context, cancellationToken).ConfigureAwait(false);
                    if (probe == Probe.Exited)
                    {
                        return;
                    }

                    if (probe == Probe.Unreachable)
                    {
                        await Task.Delay(Backoff(attempt++, settings.WaitRetryMax), cancellationToken).ConfigureAwait(false);
                        continue;
                    }
                }

                try
                {
                    var exit = await handler.Controller.WaitAsync(context, cancellationToken).ConfigureAwait(false);
                    await sandboxStatus.RecordExitAsync(id, generation, exit, cancellationToken).ConfigureAwait(false);
                    return;
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception e) when (IsolaException.IsNotFound(e))
                {
                    await sandboxStatus.RecordExitAsync(id, generation, null, cancellationToken).ConfigureAwait(false);
                    return;
                }
                catch (Exception e)
                {
                    var unavailable = e is IsolaException { Code: IsolaErrorCode.Unavailable };
                    logger.LogWarning("sandbox '{Id}': Wait failed ({Error}); retrying", id, e.Message);
                    if (unavailable)
                    {
                        await MarkAsync(id, generation, SandboxState.Ready, SandboxState.Pending, cancellationToken).ConfigureAwait(false);
                    }
                }

                await Task.Delay(Backoff(attempt++, settings.WaitRetryMax), cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            logger.LogError(e, "sandbox '{Id}': background Wait stopped", id);
        }
    }

    private enum Probe { Ready, Exited, Unreachable }

    /// <summary>Asks Status for a Pending sandbox: Ready again -> Ready; exited or gone -> Stopped.</summary>
    private async Task<Probe> ProbeAsync(SandboxId id, string generation, RuntimeHandler handler, SandboxContext context,
        CancellationToken cancellationToken)
    {
        try
        {
            var status = await Deadline.RunAsync($"sandbox '{id}': controller '{handler.ControllerName}' Status",
                controller.Timeout, ct => handler.Controller.StatusAsync(context, false, ct), cancellationToken).ConfigureAwait(false);
            if (status.Ready)
            {
                await MarkAsync(id, generation, SandboxState.Pending, SandboxState.Ready, cancellationToken).ConfigureAwait(false);
                return Probe.Ready;
            }

            var exit = await controller.ExitOfStoppedAsync(id, handler, context, cancellationToken).ConfigureAwait(false);
            await sandboxStatus.RecordExitAsync(id, generation, exit, cancellationToken).ConfigureAwait(false);
            return Probe.Exited;
        }
        catch (Exception e) when (IsolaException.IsNotFound(e))
        {
            await sandboxStatus.RecordExitAsync(id, generation, null, cancellationToken).ConfigureAwait(false);
            return Probe.Exited;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            if (e is IsolaException { Code: IsolaErrorCode.Unavailable or IsolaErrorCode.DeadlineExceeded })
            {
                await MarkAsync(id, generation, SandboxState.Ready, SandboxState.Pending, cancellationToken).ConfigureAwait(false);
            }

            return Probe.Unreachable;
        }
    }

    /// <summary>Moves a sandbox from <paramref name="from"/> to <paramref name="to"/> if it is still in <paramref name="from"/>.</summary>
    private async Task MarkAsync(SandboxId id, string generation, SandboxState from, SandboxState to, CancellationToken cancellationToken)
    {
        using var scope = await store.TryOpenAsync(id, generation, cancellationToken).ConfigureAwait(false);
        if (scope is not null && scope.Record.State == from)
        {
            store.Persist(scope.Record, to, to == SandboxState.Pending ? "mark pending" : "mark ready");
            logger.LogInformation("sandbox '{Id}' is {State}", id, to);
        }
    }
}
