namespace Isola.Scripting;

/// <summary>Scoped sandbox creation for workflows: the sandbox goes away with the <c>await using</c> scope.</summary>
public static class ScopedSandboxExtensions
{
    /// <summary>Runs a sandbox (see <see cref="ISandboxes.RunAsync"/>) that is stopped and removed when the returned
    /// handle is disposed, including when the workflow fails or is cancelled.</summary>
    /// <param name="sandboxes">The host's sandboxes.</param>
    /// <param name="spec">What to run.</param>
    /// <param name="cancellationToken">Cancels the start; a cancelled start is rolled back by the host.</param>
    /// <param name="stopTimeout">Graceful stop timeout at teardown; null uses the configured default.</param>
    public static async Task<ScopedSandbox> RunScopedAsync(this ISandboxes sandboxes, SandboxSpec spec,
        CancellationToken cancellationToken = default, TimeSpan? stopTimeout = null)
    {
        ArgumentNullException.ThrowIfNull(sandboxes);
        var sandbox = await sandboxes.RunAsync(spec, cancellationToken).ConfigureAwait(false);
        return new ScopedSandbox(sandbox, stopTimeout);
    }

    /// <summary>Takes ownership of an existing sandbox (for example one made with <see cref="ISandboxes.CreateAsync"/> and
    /// started by hand): disposing the returned handle stops and removes it.</summary>
    /// <param name="sandbox">The sandbox.</param>
    /// <param name="stopTimeout">Graceful stop timeout at teardown; null uses the configured default.</param>
    public static ScopedSandbox ToScoped(this ISandbox sandbox, TimeSpan? stopTimeout = null)
    {
        ArgumentNullException.ThrowIfNull(sandbox);
        return sandbox as ScopedSandbox ?? new ScopedSandbox(sandbox, stopTimeout);
    }
}
