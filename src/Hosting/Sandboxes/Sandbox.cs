using Isola.Controllers;

namespace Isola.Hosting.Sandboxes;

/// <summary>A handle on one sandbox. It carries the record's generation, so it never acts on a different sandbox
/// that was created later under the same id.</summary>
internal sealed class Sandbox : ISandbox
{
    private readonly SandboxStore _store;
    private readonly ControllerCalls _controller;
    private readonly SandboxLifecycle _lifecycle;
    private readonly SandboxStopper _stopper;
    private readonly SandboxStatus _status;
    private SandboxInfo _info;

    public Sandbox(SandboxStore store, ControllerCalls controller, SandboxLifecycle lifecycle, SandboxStopper stopper, SandboxStatus status,
        ISandboxContainers containers, SandboxInfo info, string generation)
    {
        _store = store;
        _controller = controller;
        _lifecycle = lifecycle;
        _stopper = stopper;
        _status = status;
        _info = info;
        Generation = generation;
        Containers = containers.Of(this);
    }

    /// <inheritdoc />
    public SandboxId Id => _info.Id;

    /// <inheritdoc />
    public string Name => _info.Name;

    /// <inheritdoc />
    public SandboxInfo Info => Volatile.Read(ref _info);

    /// <summary>The record generation this handle refers to.</summary>
    internal string Generation { get; }

    /// <inheritdoc />
    public IContainers Containers { get; }

    /// <summary>Updates <see cref="Info"/> from a record.</summary>
    internal void Update(SandboxInfo info) => Volatile.Write(ref _info, info);

    /// <inheritdoc />
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        using var scope = await _store.OpenAsync(Id, Generation, cancellationToken).ConfigureAwait(false);
        try
        {
            await _lifecycle.StartLockedAsync(scope, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Update(scope.Record.ToInfo());
        }
    }

    /// <inheritdoc />
    public async Task<SandboxInfo> InspectAsync(CancellationToken cancellationToken = default)
    {
        using var scope = await _store.OpenAsync(Id, Generation, cancellationToken).ConfigureAwait(false);
        await _status.RefreshLockedAsync(scope, cancellationToken).ConfigureAwait(false);
        var info = scope.Record.ToInfo();
        Update(info);
        return info;
    }

    /// <inheritdoc />
    public async Task StopAsync(TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        if (timeout is { } t && t < TimeSpan.Zero)
        {
            throw IsolaException.InvalidArgument($"sandbox '{Id}': stop timeout must not be negative");
        }

        using var scope = await _store.OpenAsync(Id, Generation, cancellationToken).ConfigureAwait(false);
        try
        {
            await _stopper.StopLockedAsync(scope, timeout, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Update(scope.Record.ToInfo());
        }
    }

    /// <inheritdoc />
    public async Task RemoveAsync(CancellationToken cancellationToken = default)
    {
        // Idempotent: a sandbox that is already gone (removed by another thread or process) counts as removed.
        using var scope = await _store.TryOpenAsync(Id, Generation, cancellationToken).ConfigureAwait(false);
        if (scope is null)
        {
            return;
        }

        try
        {
            await _lifecycle.RemoveLockedAsync(scope, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Update(scope.Record.ToInfo());
        }
    }

    /// <inheritdoc />
    public async Task<ExitStatus> WaitAsync(CancellationToken cancellationToken = default)
    {
        var record = _store.TryLoad(Id);
        if (record is null || record.Generation != Generation)
        {
            throw IsolaException.NotFound($"sandbox '{Id}' not found (it was removed)");
        }

        Update(record.ToInfo());
        if (record.State is SandboxState.Stopped or SandboxState.Removing)
        {
            return ExitOf(record);
        }

        if (record.State is SandboxState.Creating or SandboxState.Created or SandboxState.Starting)
        {
            throw IsolaException.FailedPrecondition($"sandbox '{Id}': cannot wait for a sandbox in state {record.State}: it has not started");
        }

        var handler = _store.Handler(record);
        var context = SandboxContexts.FromRecord(record, _store.SandboxDirectory(Id), shareControllerData: false);
        ExitStatus? exit;
        try
        {
            exit = await ControllerCalls.Named(Id, "Wait", () => handler.Controller.WaitAsync(context, cancellationToken)).ConfigureAwait(false);
        }
        catch (IsolaException e) when (e.Code == IsolaErrorCode.NotFound)
        {
            exit = null;
        }

        await _status.RecordExitAsync(Id, Generation, exit, cancellationToken).ConfigureAwait(false);
        var after = _store.TryLoad(Id);
        if (after is not null && after.Generation == Generation)
        {
            Update(after.ToInfo());
            return ExitOf(after);
        }

        return exit ?? new ExitStatus(UnknownExitCode, DateTimeOffset.UtcNow);
    }

    /// <inheritdoc />
    public async Task UpdateResourcesAsync(LinuxResources resources, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(resources);
        using var scope = await _store.OpenAsync(Id, Generation, cancellationToken).ConfigureAwait(false);
        RequireReady(scope.Record, "update the resources of");
        await _controller.CallAsync(scope, "UpdateResources",
            (c, s, ct) => c.UpdateResourcesAsync(s, new UpdateResourcesRequest(null, resources), ct), cancellationToken).ConfigureAwait(false);
        scope.Record.Spec = scope.Record.Spec with { Resources = resources };
        _store.Save(scope.Record);
        Update(scope.Record.ToInfo());
    }

    /// <inheritdoc />
    public async Task<PlatformInfo> PlatformAsync(CancellationToken cancellationToken = default)
    {
        using var scope = await _store.OpenAsync(Id, Generation, cancellationToken).ConfigureAwait(false);
        if (scope.Record.State is SandboxState.Creating or SandboxState.Removing)
        {
            throw IsolaException.FailedPrecondition($"sandbox '{Id}': cannot ask the platform of a sandbox in state {scope.Record.State}");
        }

        return await _controller.CallAsync(scope, "Platform", (c, s, ct) => c.PlatformAsync(s, ct), cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<PrepareResult> PrepareAsync(PrepareRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        using var scope = await _store.OpenAsync(Id, Generation, cancellationToken).ConfigureAwait(false);
        RequireReady(scope.Record, $"prepare container '{request.ContainerId}' in");
        RequireNotHostContainer(scope.Record, request.ContainerId);
        var result = await _controller.CallAsync(scope, "Prepare", (c, s, ct) => c.PrepareAsync(s, request, ct), cancellationToken).ConfigureAwait(false);
        _store.Save(scope.Record);
        return result;
    }

    /// <inheritdoc />
    public async Task PurgeAsync(PurgeRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        using var scope = await _store.OpenAsync(Id, Generation, cancellationToken).ConfigureAwait(false);
        if (scope.Record.State is SandboxState.Creating or SandboxState.Removing)
        {
            // Nothing was staged yet, or removing the sandbox releases it.
            return;
        }

        RequireNotHostContainer(scope.Record, request.ContainerId);

        await _controller.CallAsync(scope, "Purge", (c, s, ct) => c.PurgeAsync(s, request, ct), cancellationToken).ConfigureAwait(false);
        _store.Save(scope.Record);
    }

    /// <summary>Staging is for task clients outside the host; a container the host runs is purged by deleting it.</summary>
    private void RequireNotHostContainer(State.SandboxRecord record, ContainerId containerId)
    {
        if (record.Containers.Any(c => c.Id == containerId))
        {
            throw IsolaException.FailedPrecondition(
                $"sandbox '{Id}': container '{containerId}' is run by this host; delete it instead of staging or purging it");
        }
    }

    /// <summary>The exit code reported when a sandbox ended and its controller could not say how (as a shell reports
    /// an unknown status).</summary>
    public const uint UnknownExitCode = 255;

    internal static void RequireReady(State.SandboxRecord record, string operation)
    {
        if (record.State != SandboxState.Ready)
        {
            throw IsolaException.FailedPrecondition(
                $"sandbox '{record.Id}': cannot {operation} a sandbox in state {record.State} (it must be Ready)");
        }
    }

    private static ExitStatus ExitOf(State.SandboxRecord record) =>
        record.Exit ?? new ExitStatus(UnknownExitCode, record.UpdatedAt);
}
