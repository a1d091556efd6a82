namespace Isola.Hosting;

/// <summary>
/// Bounds a plugin call by a deadline. The call gets a token that fires at the deadline, and the caller stops waiting
/// at the deadline even if the plugin ignores its token or blocks its thread, so a hung plugin cannot hang the host.
/// </summary>
internal static class Deadline
{
    /// <summary>Runs <paramref name="call"/>; throws <see cref="IsolaErrorCode.DeadlineExceeded"/> naming
    /// <paramref name="what"/> when it takes longer than <paramref name="timeout"/>.</summary>
    /// <param name="what">What is being done, for example "sandbox 'web': controller 'shim' Start".</param>
    /// <param name="timeout">The deadline.</param>
    /// <param name="call">The call; it gets a token that fires at the deadline.</param>
    /// <param name="cancellationToken">The caller's token.</param>
    /// <param name="lateResult">Receives the result of a call that succeeds after the caller stopped waiting (a
    /// connection, say), so that it can be released rather than leaked.</param>
    public static async Task<T> RunAsync<T>(string what, TimeSpan timeout, Func<CancellationToken, Task<T>> call,
        CancellationToken cancellationToken, Action<T>? lateResult = null)
    {
        using var deadline = new CancellationTokenSource(timeout);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        // Task.Run: a plugin that blocks synchronously before returning its Task must not block the caller past the
        // deadline either. The thread hop is noise next to the IPC a plugin call makes.
        var task = Task.Run(() => call(cts.Token), CancellationToken.None);

        try
        {
            return await task.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            Observe(task, lateResult);
            throw Exceeded(what, timeout);
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw Exceeded(what, timeout);
        }
        catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            // Neither the deadline nor the caller cancelled: the plugin gave up on its own. Calling that a deadline
            // would send the operator looking at timeouts instead of at the plugin.
            throw IsolaException.Internal($"{what} was cancelled by the plugin itself: {e.Message}", e);
        }
        catch (OperationCanceledException)
        {
            Observe(task, lateResult);
            throw;
        }
        catch (Exception e) when (e is not IsolaException)
        {
            throw IsolaException.Internal($"{what} failed: {e.Message}", e);
        }
    }

    /// <summary>As <see cref="RunAsync{T}"/>, for calls without a result.</summary>
    public static Task RunAsync(string what, TimeSpan timeout, Func<CancellationToken, Task> call, CancellationToken cancellationToken) =>
        RunAsync(what, timeout, async ct =>
        {
            await call(ct).ConfigureAwait(false);
            return true;
        }, cancellationToken);

    private static IsolaException Exceeded(string what, TimeSpan timeout) =>
        IsolaException.DeadlineExceeded($"{what} did not finish within {timeout.TotalSeconds:0.###}s");

    // A call abandoned at its deadline may still fail later (observe it so the failure is not reported as unobserved)
    // or succeed later (hand its result to whoever must release it).
    private static void Observe<T>(Task<T> task, Action<T>? lateResult) =>
        _ = task.ContinueWith(t =>
        {
            if (t.IsCompletedSuccessfully)
            {
                lateResult?.Invoke(t.Result);
            }
            else
            {
                _ = t.Exception;
            }
        }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
}
