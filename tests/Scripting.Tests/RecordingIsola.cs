using System.Collections.Concurrent;

namespace Isola.Scripting.Tests;

/// <summary>
/// An in-memory IIsola for engine tests that need no real sandbox (compile, cache, diagnostics, memory, scoped
/// teardown bookkeeping). It keeps the host's observable rules that scripts rely on: unique ids, Ready after Run,
/// idempotent Stop and Remove, NotFound once removed. Real sandboxes are exercised in Integration.Tests/Scripting.
/// </summary>
internal sealed class RecordingIsola : IIsola, ISandboxes
{
    private readonly ConcurrentDictionary<string, RecordedSandbox> _sandboxes = new();
    private int _next;

    public RecordingIsola(params PluginInfo[] plugins) => Plugins = plugins;

    public ISandboxes Sandboxes => this;

    public IReadOnlyList<RuntimeInfo> Runtimes { get; } =
        [new RuntimeInfo("runc", "shim", true, new Dictionary<string, string>())];

    public IReadOnlyList<PluginInfo> Plugins { get; }

    public IReadOnlyList<string> QuarantinedRecords => [];

    /// <summary>Every sandbox ever run, including removed ones.</summary>
    public ConcurrentQueue<RecordedSandbox> History { get; } = new();

    /// <summary>Completes each time a sandbox becomes Ready.</summary>
    public event Action<RecordedSandbox>? Started;

    public Task<ISandbox> RunAsync(SandboxSpec spec, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var id = spec.Id ?? SandboxId.Parse("sb" + Interlocked.Increment(ref _next));
        var sandbox = new RecordedSandbox(this, id, spec);
        if (!_sandboxes.TryAdd(id.Value, sandbox))
        {
            throw IsolaException.AlreadyExists($"sandbox '{id}' already exists");
        }

        History.Enqueue(sandbox);
        Started?.Invoke(sandbox);
        return Task.FromResult<ISandbox>(sandbox);
    }

    public Task<ISandbox> CreateAsync(SandboxSpec spec, CancellationToken cancellationToken = default) => RunAsync(spec, cancellationToken);

    public Task<ISandbox> GetAsync(string idOrName, CancellationToken cancellationToken = default) =>
        _sandboxes.TryGetValue(idOrName, out var s)
            ? Task.FromResult<ISandbox>(s)
            : throw IsolaException.NotFound($"sandbox '{idOrName}' not found");

    public Task<IReadOnlyList<SandboxInfo>> ListAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult<IReadOnlyList<SandboxInfo>>([.. _sandboxes.Values.Select(s => s.Info)]);

    internal void Forget(SandboxId id) => _sandboxes.TryRemove(id.Value, out _);
}

/// <summary>One sandbox of <see cref="RecordingIsola"/>.</summary>
internal sealed class RecordedSandbox(RecordingIsola owner, SandboxId id, SandboxSpec spec) : ISandbox
{
    private SandboxState _state = SandboxState.Ready;

    public SandboxId Id => id;

    public string Name => spec.Name ?? id.Value;

    public int StopCalls { get; private set; }

    public bool Removed { get; private set; }

    public SandboxInfo Info => new()
    {
        Id = id, Name = Name, Runtime = spec.Runtime ?? "runc", Controller = "shim", State = _state, Spec = spec,
    };

    public IContainers Containers => throw new NotSupportedException("RecordingIsola has no containers; use the integration tests");

    public Task StartAsync(CancellationToken cancellationToken = default) => Task.CompletedTask;

    public Task<SandboxInfo> InspectAsync(CancellationToken cancellationToken = default) => Task.FromResult(Info);

    public Task StopAsync(TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        if (Removed)
        {
            throw IsolaException.NotFound($"sandbox '{id}' not found");
        }

        StopCalls++;
        _state = SandboxState.Stopped;
        return Task.CompletedTask;
    }

    public Task RemoveAsync(CancellationToken cancellationToken = default)
    {
        _state = SandboxState.Stopped;
        Removed = true;
        owner.Forget(id);
        return Task.CompletedTask;
    }

    public Task<ExitStatus> WaitAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult(new ExitStatus(0, DateTimeOffset.UtcNow));

    public Task UpdateResourcesAsync(LinuxResources resources, CancellationToken cancellationToken = default) => Task.CompletedTask;

    public Task<PlatformInfo> PlatformAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult(new PlatformInfo("linux", "amd64"));

    public Task<Isola.Controllers.PrepareResult> PrepareAsync(Isola.Controllers.PrepareRequest request, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException("the scripting tests never stage containers");

    public Task PurgeAsync(Isola.Controllers.PurgeRequest request, CancellationToken cancellationToken = default) => Task.CompletedTask;
}
