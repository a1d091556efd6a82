namespace Isola.Hosting.Sandboxes;

/// <summary>
/// The host's <see cref="ISandboxes"/>: delegation only. Creating and starting is <see cref="SandboxLifecycle"/>'s
/// job, looking up and listing <see cref="SandboxStatus"/>'s, the quarantine list <see cref="SandboxRecovery"/>'s; the
/// handles come from <see cref="SandboxHandles"/>.
/// </summary>
internal sealed class SandboxManager(SandboxLifecycle lifecycle, SandboxStatus status, SandboxRecovery recovery, SandboxHandles handles)
    : ISandboxes
{
    /// <inheritdoc />
    public IReadOnlyList<string> QuarantinedRecords => recovery.Quarantined;

    /// <inheritdoc />
    public async Task<ISandbox> RunAsync(SandboxSpec spec, CancellationToken cancellationToken = default)
    {
        // Created is not written: Starting follows at once, and recovery undoes a sandbox found in Creating or in
        // Starting alike. One atomic write (two fsyncs) fewer on every run.
        using var scope = await lifecycle.CreateLockedAsync(spec, cancellationToken, persistCreated: false).ConfigureAwait(false);
        await lifecycle.StartLockedAsync(scope, cancellationToken).ConfigureAwait(false);
        return handles.Of(scope.Record);
    }

    /// <inheritdoc />
    public async Task<ISandbox> CreateAsync(SandboxSpec spec, CancellationToken cancellationToken = default)
    {
        using var scope = await lifecycle.CreateLockedAsync(spec, cancellationToken).ConfigureAwait(false);
        return handles.Of(scope.Record);
    }

    /// <inheritdoc />
    public async Task<ISandbox> GetAsync(string idOrName, CancellationToken cancellationToken = default) =>
        handles.Of(await status.LookUpAsync(idOrName, cancellationToken).ConfigureAwait(false));

    /// <inheritdoc />
    public Task<IReadOnlyList<SandboxInfo>> ListAsync(CancellationToken cancellationToken = default) => status.ListAsync(cancellationToken);
}
