using Isola.Controllers;
using Isola.Hosting.Configuration;

namespace Isola.Hosting.Sandboxes;

/// <summary>
/// Calls into a sandbox's controller: every call but Wait runs under the controller deadline, passes the
/// <c>controller:OP</c> crash points, and fails with an error that names the sandbox and the operation.
/// </summary>
internal sealed class ControllerCalls(TimeSpan controllerTimeout)
{
    /// <summary>The deadline of a controller call (Timeouts:Controller).</summary>
    public TimeSpan Timeout => controllerTimeout;

    /// <summary>Calls the controller under <paramref name="timeout"/> (default: the controller deadline).</summary>
    public Task<T> CallAsync<T>(SandboxScope scope, string operation, Func<ISandboxController, SandboxContext, CancellationToken, Task<T>> call,
        CancellationToken cancellationToken, TimeSpan? timeout = null)
    {
        var what = $"sandbox '{scope.Record.Id}': controller '{scope.Handler.ControllerName}' {operation}";
        return Deadline.RunAsync(what, timeout ?? controllerTimeout,
            ct => Faults.CrashPoints.AroundAsync("controller", operation,
                () => Named(scope.Record.Id, operation, () => call(scope.Handler.Controller, scope.Context, ct))), cancellationToken);
    }

    /// <summary>As <see cref="CallAsync{T}"/>, without a result.</summary>
    public Task CallAsync(SandboxScope scope, string operation, Func<ISandboxController, SandboxContext, CancellationToken, Task> call,
        CancellationToken cancellationToken, TimeSpan? timeout = null) =>
        CallAsync(scope, operation, async (c, s, ct) =>
        {
            await call(c, s, ct).ConfigureAwait(false);
            return true;
        }, cancellationToken, timeout);

    /// <summary>Makes sure a plugin's error names the sandbox and the operation, keeping its code.</summary>
    public static async Task<T> Named<T>(SandboxId sandboxId, string operation, Func<Task<T>> call)
    {
        try
        {
            return await call().ConfigureAwait(false);
        }
        catch (IsolaException e) when (!e.Message.Contains($"'{sandboxId}'", StringComparison.Ordinal))
        {
            throw new IsolaException(e.Code, $"sandbox '{sandboxId}': {operation}: {e.Message}", e);
        }
    }

    /// <summary>How a stopped sandbox exited: Wait returns at once for a stopped sandbox. Bounded tightly, and best
    /// effort: a controller that cannot tell leaves the exit unknown rather than holding up Stop or recovery.</summary>
    public Task<ExitStatus?> ExitOfStoppedAsync(SandboxScope scope) =>
        ExitOfStoppedAsync(scope.Record.Id, scope.Handler, scope.Context, CancellationToken.None);

    /// <summary>As <see cref="ExitOfStoppedAsync(SandboxScope)"/>, outside the sandbox's lock (a background Wait).</summary>
    public async Task<ExitStatus?> ExitOfStoppedAsync(SandboxId id, RuntimeHandler handler, SandboxContext context, CancellationToken cancellationToken)
    {
        var bound = TimeSpan.FromSeconds(Math.Min(2, controllerTimeout.TotalSeconds));
        try
        {
            return await Deadline.RunAsync($"sandbox '{id}': controller '{handler.ControllerName}' Wait", bound,
                ct => Named(id, "Wait", () => handler.Controller.WaitAsync(context, ct)), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IsolaException)
        {
            return null;
        }
    }
}
