using Isola.Controllers;
using Isola.Hosting.Configuration;
using Isola.Hosting.Containers;
using Isola.Hosting.Plugins;
using Isola.Hosting.State;
using Microsoft.Extensions.Logging;

namespace Isola.Hosting.Sandboxes;

/// <summary>
/// The sandboxes of a host: allocation of ids and names, the state machine, and the controller calls. Every
/// operation takes the sandbox's lock (in-process and across processes), reloads the record from disk, persists the
/// state it is about to enter, and only then calls the controller under its deadline.
/// </summary>
internal sealed partial class SandboxManager : ISandboxes, IAsyncDisposable
{
    private readonly IsolaSettings _settings;
    private readonly RuntimeTable _runtimes;
    private readonly ILogger _logger;
    private readonly List<string> _quarantined = [];

    public SandboxManager(IsolaSettings settings, RuntimeTable runtimes, PluginCatalog plugins,
        ILoggerFactory loggerFactory)
    {
        _settings = settings;
        _runtimes = runtimes;
        _logger = loggerFactory.CreateLogger("Isola.Sandboxes");
        Store = new StateStore(settings.Root, _logger);
        Locks = new SandboxLocks(Store);
        Names = new NameIndex(Store);
        TaskClients = new TaskClients(plugins, settings.TaskTimeout, Logger);
    }

    internal StateStore Store { get; }

    internal SandboxLocks Locks { get; }

    internal NameIndex Names { get; }

    internal TaskClients TaskClients { get; }

    internal IsolaSettings Settings => _settings;

    internal ILogger Logger => _logger;

    /// <inheritdoc />
    public IReadOnlyList<string> QuarantinedRecords
    {
        get
        {
            lock (_quarantined)
            {
                return [.. _quarantined];
            }
        }
    }

    /// <inheritdoc />
    public async Task<ISandbox> RunAsync(SandboxSpec spec, CancellationToken cancellationToken = default)
    {
        // Created is not written: Starting follows at once, and recovery undoes a sandbox found in Creating or in
        // Starting alike. One atomic write (two fsyncs) fewer on every run.
        using var scope = await CreateLockedAsync(spec, cancellationToken, persistCreated: false).ConfigureAwait(false);
        await StartLockedAsync(scope, cancellationToken).ConfigureAwait(false);
        return new Sandbox(this, scope.Record.ToInfo(), scope.Record.Generation);
    }

    /// <inheritdoc />
    public async Task<ISandbox> CreateAsync(SandboxSpec spec, CancellationToken cancellationToken = default)
    {
        using var scope = await CreateLockedAsync(spec, cancellationToken).ConfigureAwait(false);
        return new Sandbox(this, scope.Record.ToInfo(), scope.Record.Generation);
    }

    /// <inheritdoc />
    public async Task<ISandbox> GetAsync(string idOrName, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(idOrName);
        // Names follow the id rule too, so a string that breaks it can name nothing: say so rather than "not found".
        IdValidator.Validate(idOrName, "sandbox");
        var record = Find(idOrName) ?? throw IsolaException.NotFound($"sandbox '{idOrName}' not found");
        if (_settings.Recovery == RecoveryMode.OnDemand)
        {
            // No background Wait keeps this host's view current: ask the controller now, for the one sandbox the
            // caller is about to act on.
            // Removed meanwhile: hand out the handle anyway, as without the refresh; its operations say what is left
            // (Remove counts an already removed sandbox as removed).
            using var scope = await TryOpenAsync(record.Id, record.Generation, cancellationToken).ConfigureAwait(false);
            if (scope is not null)
            {
                await RefreshLockedAsync(scope, cancellationToken).ConfigureAwait(false);
                record = scope.Record;
            }
        }

        return new Sandbox(this, record.ToInfo(), record.Generation);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<SandboxInfo>> ListAsync(CancellationToken cancellationToken = default)
    {
        var records = LoadAll();
        // A long-lived host's background Waits keep its records current, but one may lag an exit by a moment: what a
        // listing prints must be true when printed, so a sandbox whose recorded process has ended is asked now (a read
        // of /proc per sandbox, no controller call for the others). A short-lived host has no Waits and asks all.
        var stale = _settings.Recovery == RecoveryMode.OnDemand
            ? Enumerable.Range(0, records.Count).ToList()
            : [.. Enumerable.Range(0, records.Count).Where(i => !ProcessIdentity.MayBeAlive(records[i].Pid, records[i].PidStartTime))];
        if (stale.Count > 0)
        {
            await Parallel.ForEachAsync(stale,
                new ParallelOptions { MaxDegreeOfParallelism = RefreshConcurrency, CancellationToken = cancellationToken },
                async (i, ct) => records[i] = await RefreshForListingAsync(records[i], ct).ConfigureAwait(false)).ConfigureAwait(false);
        }

        return [.. records.Select(r => r.ToInfo())];
    }

    /// <summary>A listing's view of one sandbox: refreshed from its controller when it may be running and nobody is
    /// working on it; a sandbox whose lock is held is being changed by someone else and is shown as recorded.</summary>
    private async Task<SandboxRecord> RefreshForListingAsync(SandboxRecord record, CancellationToken cancellationToken)
    {
        if (record.State is not (SandboxState.Ready or SandboxState.Pending or SandboxState.Unknown))
        {
            return record;
        }

        IDisposable? lease;
        try
        {
            lease = Locks.TryAcquire(record.Id);
        }
        catch (IsolaException e)
        {
            // A lock that cannot be taken (a read-only state root) must not fail the whole listing: show the record.
            _logger.LogWarning("sandbox '{Id}': status not refreshed: {Error}", record.Id, e.Message);
            return record;
        }

        if (lease is null)
        {
            return record;
        }

        SandboxScope scope;
        try
        {
            var current = Store.TryLoad(record.Id);
            if (current is null || current.Generation != record.Generation)
            {
                lease.Dispose();
                return record;
            }

            scope = new SandboxScope(lease, current, Handler(current), Store);
        }
        catch (Exception e) when (e is IsolaException or CorruptRecordException)
        {
            lease.Dispose();
            return record;
        }

        using (scope)
        {
            try
            {
                await RefreshLockedAsync(scope, cancellationToken).ConfigureAwait(false);
            }
            catch (IsolaException e)
            {
                _logger.LogWarning("sandbox '{Id}': status not refreshed: {Error}", record.Id, e.Message);
            }

            return scope.Record;
        }
    }

    /// <summary>The record with that id, or else the one with that name (through the name index: one file, not every
    /// record); null when neither exists.</summary>
    internal SandboxRecord? Find(string idOrName)
    {
        if (!IdValidator.IsValid(idOrName))
        {
            return null;
        }

        return TryLoad(idOrName) ?? Names.Resolve(idOrName);
    }

    /// <summary>Every readable record, sorted by creation time.</summary>
    internal List<SandboxRecord> LoadAll() =>
        [.. Store.ListIds().Select(TryLoad).OfType<SandboxRecord>().OrderBy(r => r.CreatedAt).ThenBy(r => r.Id, StringComparer.Ordinal)];

    /// <summary>Reads a record, or null when it is missing or unreadable (unreadable ones are quarantined at start).</summary>
    internal SandboxRecord? TryLoad(string id)
    {
        try
        {
            return Store.TryLoad(id);
        }
        catch (CorruptRecordException e)
        {
            _logger.LogWarning("{Message}", e.Message);
            return null;
        }
    }

    /// <summary>Locks the sandbox and reloads its record. Throws NotFound when it is gone (or was re-created under the
    /// same id, which <paramref name="generation"/> tells apart).</summary>
    internal async Task<SandboxScope> OpenAsync(string id, string generation, CancellationToken cancellationToken)
    {
        return await TryOpenAsync(id, generation, cancellationToken).ConfigureAwait(false)
            ?? throw IsolaException.NotFound($"sandbox '{id}' not found (it was removed)");
    }

    /// <summary>As <see cref="OpenAsync"/>, but null when the sandbox is gone.</summary>
    internal async Task<SandboxScope?> TryOpenAsync(string id, string? generation, CancellationToken cancellationToken)
    {
        var lease = await Locks.AcquireAsync(id, cancellationToken).ConfigureAwait(false);
        if (lease is null)
        {
            return null;
        }

        SandboxRecord? record;
        try
        {
            record = Store.TryLoad(id);
        }
        catch (CorruptRecordException e)
        {
            lease.Dispose();
            throw IsolaException.Internal($"sandbox '{id}': {e.Message}", e);
        }

        if (record is null || (generation is not null && record.Generation != generation))
        {
            lease.Dispose();
            return null;
        }

        try
        {
            return new SandboxScope(lease, record, Handler(record), Store);
        }
        catch
        {
            lease.Dispose();
            throw;
        }
    }

    /// <summary>The runtime handler of a record.</summary>
    internal RuntimeHandler Handler(SandboxRecord record) =>
        _runtimes.TryResolve(record.Runtime, out var handler)
            ? handler
            : throw IsolaException.FailedPrecondition(
                $"sandbox '{record.Id}': its runtime '{record.Runtime}' is not configured any more (add Isola:Runtimes:{record.Runtime})");

    /// <summary>Checks the transition, then writes the record in its new state.</summary>
    internal void Persist(SandboxRecord record, SandboxState state, string operation)
    {
        Transition(record, state, operation);
        Store.Save(record);
        Faults.CrashPoints.Reach($"record:{state}");
    }

    /// <summary>Moves the record to <paramref name="state"/> in memory only, for a state the caller persists past
    /// at once (the next intent is written before any side effect).</summary>
    private static void Transition(SandboxRecord record, SandboxState state, string operation)
    {
        SandboxTransitions.Ensure(record.Id, operation, record.State, state);
        record.State = state;
    }

    /// <summary>Calls the controller under <paramref name="timeout"/> (default: the controller deadline).</summary>
    internal Task<T> CallAsync<T>(SandboxScope scope, string operation, Func<ISandboxController, SandboxContext, CancellationToken, Task<T>> call,
        CancellationToken cancellationToken, TimeSpan? timeout = null)
    {
        var what = $"sandbox '{scope.Record.Id}': controller '{scope.Handler.ControllerName}' {operation}";
        return Deadline.RunAsync(what, timeout ?? _settings.ControllerTimeout,
            ct => Faults.CrashPoints.AroundAsync("controller", operation,
                () => Named(scope.Record.Id, operation, () => call(scope.Handler.Controller, scope.Context, ct))), cancellationToken);
    }

    /// <summary>As <see cref="CallAsync{T}"/>, without a result.</summary>
    internal Task CallAsync(SandboxScope scope, string operation, Func<ISandboxController, SandboxContext, CancellationToken, Task> call,
        CancellationToken cancellationToken, TimeSpan? timeout = null) =>
        CallAsync(scope, operation, async (c, s, ct) =>
        {
            await call(c, s, ct).ConfigureAwait(false);
            return true;
        }, cancellationToken, timeout);

    /// <summary>Makes sure a plugin's error names the sandbox and the operation, keeping its code.</summary>
    internal static async Task<T> Named<T>(string sandboxId, string operation, Func<Task<T>> call)
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

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await StopMonitorsAsync().ConfigureAwait(false);
        await TaskClients.DisposeAsync().ConfigureAwait(false);
    }
}
