using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Isola.Controllers;

namespace Isola.Hosting.Tests.Doubles;

/// <summary>
/// A controller test double that enforces the Sandbox API's rules instead of accepting anything: Create before Start,
/// no double Create, Start only once, NotFound for sandboxes it does not know. It counts every call, and can be told
/// to fail or hang on any operation. <see cref="Live"/> is what a real runtime would leak if the host forgot a Shutdown.
/// </summary>
public sealed class FakeController : ISandboxController, IReportsRuntimeDetails, IAsyncDisposable
{
    private int _disposals;

    /// <summary>What the controller "detected" about its runtime, shown in RuntimeInfo.Details.</summary>
    public Dictionary<string, string> Detected { get; } = [];

    public IReadOnlyDictionary<string, string> Details => new Dictionary<string, string>(Detected);

    /// <summary>How often a host disposed it.</summary>
    public int Disposals => _disposals;

    public ValueTask DisposeAsync()
    {
        Interlocked.Increment(ref _disposals);
        return ValueTask.CompletedTask;
    }

    public enum Phase { Created, Running, Stopped }

    private readonly ConcurrentDictionary<string, Phase> _sandboxes = new();
    private readonly ConcurrentDictionary<string, TaskCompletionSource<ExitStatus>> _exits = new();
    private readonly ConcurrentDictionary<string, int> _calls = new();

    /// <summary>Operations that throw the given exception (once per entry in the queue, then succeed).</summary>
    public ConcurrentDictionary<string, ConcurrentQueue<Exception>> Failures { get; } = new();

    /// <summary>Operations that never return and ignore their token (a hung runtime).</summary>
    public ConcurrentDictionary<string, bool> Hangs { get; } = new();

    /// <summary>Delay added inside Stop and Shutdown, to widen races.</summary>
    public TimeSpan SlowDown { get; set; }

    /// <summary>The task address reported by Start.</summary>
    public string TaskAddress { get; set; } = "fake:///task";

    /// <summary>The pid Start reports (a real process's, for tests of pid liveness).</summary>
    public uint SandboxPid { get; set; } = 4242;

    /// <summary>The runtime options Prepare returns for the task service's Create; null for none.</summary>
    public (string TypeUrl, byte[] Value)? RuntimeOptions { get; set; }

    /// <summary>Prepared containers (and exec processes), by sandbox.</summary>
    public ConcurrentDictionary<string, PrepareRequest> Prepared { get; } = new();

    public IReadOnlyDictionary<string, Phase> Live => _sandboxes;

    public int Calls(string operation) => _calls.GetValueOrDefault(operation);

    public void Fail(string operation, Exception exception) =>
        Failures.GetOrAdd(operation, _ => new ConcurrentQueue<Exception>()).Enqueue(exception);

    /// <summary>Makes the sandbox exit on its own, as a crashed pause process or VM would.</summary>
    public void Exit(string id, uint code)
    {
        _sandboxes[id] = Phase.Stopped;
        ExitSource(id).TrySetResult(new ExitStatus(code, DateTimeOffset.UtcNow));
    }

    /// <summary>Puts a sandbox into the controller's books (what a crashed host process left running).</summary>
    public void Adopt(string id, Phase phase) => _sandboxes[id] = phase;

    public async Task CreateAsync(SandboxContext sandbox, CancellationToken cancellationToken)
    {
        await EnterAsync("Create").ConfigureAwait(false);
        if (!_sandboxes.TryAdd(sandbox.Id.Value, Phase.Created))
        {
            throw IsolaException.AlreadyExists($"fake: sandbox '{sandbox.Id}' already created");
        }

        sandbox.ControllerData["fake.created"] = "yes";
        sandbox.ControllerState["fake"] = new JsonObject { ["created"] = new JsonArray(sandbox.Id.Value) };
    }

    public async Task<ControllerStartResult> StartAsync(SandboxContext sandbox, CancellationToken cancellationToken)
    {
        await EnterAsync("Start").ConfigureAwait(false);
        if (!_sandboxes.TryGetValue(sandbox.Id.Value, out var phase))
        {
            throw IsolaException.NotFound($"fake: sandbox '{sandbox.Id}' was never created");
        }

        if (phase != Phase.Created)
        {
            throw IsolaException.FailedPrecondition($"fake: sandbox '{sandbox.Id}' is {phase}, Start needs Created");
        }

        _sandboxes[sandbox.Id.Value] = Phase.Running;
        _exits[sandbox.Id.Value] = new TaskCompletionSource<ExitStatus>(TaskCreationOptions.RunContinuationsAsynchronously);
        return new ControllerStartResult(SandboxPid, DateTimeOffset.UtcNow, TaskAddress, 2);
    }

    public async Task<PlatformInfo> PlatformAsync(SandboxContext sandbox, CancellationToken cancellationToken)
    {
        await EnterAsync("Platform").ConfigureAwait(false);
        Known(sandbox.Id.Value);
        return new PlatformInfo("linux", "amd64");
    }

    public async Task<PrepareResult> PrepareAsync(SandboxContext sandbox, PrepareRequest request, CancellationToken cancellationToken)
    {
        await EnterAsync("Prepare").ConfigureAwait(false);
        if (Known(sandbox.Id.Value) != Phase.Running)
        {
            throw IsolaException.FailedPrecondition($"fake: sandbox '{sandbox.Id}' is not running");
        }

        var key = $"{sandbox.Id}/{request.ContainerId}/{request.ExecId}";
        if (!Prepared.TryAdd(key, request))
        {
            throw IsolaException.AlreadyExists($"fake: '{key}' already prepared");
        }

        return new PrepareResult(Path.Combine(sandbox.StateDirectory, "bundles", request.ContainerId.Value), []) { Options = RuntimeOptions };
    }

    /// <summary>Tasks still alive, by "sandbox/container": Purge of a container whose task exists breaks the contract
    /// ("Prepare before, Purge after"). Set by tests that wire the fake task service.</summary>
    public Func<string, bool>? TaskExists { get; set; }

    public async Task PurgeAsync(SandboxContext sandbox, PurgeRequest request, CancellationToken cancellationToken)
    {
        await EnterAsync("Purge").ConfigureAwait(false);
        if (request.ExecId is null && TaskExists?.Invoke(request.ContainerId.Value) == true && Known(sandbox.Id.Value) == Phase.Running)
        {
            throw IsolaException.FailedPrecondition($"fake: purge of container '{request.ContainerId}' while its task still exists");
        }

        Prepared.TryRemove($"{sandbox.Id}/{request.ContainerId}/{request.ExecId}", out _);
    }

    public async Task UpdateResourcesAsync(SandboxContext sandbox, UpdateResourcesRequest request, CancellationToken cancellationToken)
    {
        await EnterAsync("UpdateResources").ConfigureAwait(false);
        Known(sandbox.Id.Value);
    }

    public async Task StopAsync(SandboxContext sandbox, TimeSpan timeout, CancellationToken cancellationToken)
    {
        await EnterAsync("Stop").ConfigureAwait(false);
        await Task.Delay(SlowDown, cancellationToken).ConfigureAwait(false);
        if (!_sandboxes.ContainsKey(sandbox.Id.Value))
        {
            return; // stopping a missing sandbox succeeds (ISandboxController contract)
        }

        _sandboxes[sandbox.Id.Value] = Phase.Stopped;
        ExitSource(sandbox.Id.Value).TrySetResult(new ExitStatus(137, DateTimeOffset.UtcNow));
    }

    public async Task<ExitStatus> WaitAsync(SandboxContext sandbox, CancellationToken cancellationToken)
    {
        await EnterAsync("Wait").ConfigureAwait(false);
        Known(sandbox.Id.Value);
        return await ExitSource(sandbox.Id.Value).Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    private int _statusInFlight;
    private int _statusPeak;

    /// <summary>The most Status calls that were in flight at once.</summary>
    public int StatusPeak => Volatile.Read(ref _statusPeak);

    /// <summary>How long each Status call takes (lets concurrent calls overlap).</summary>
    public TimeSpan StatusDelay { get; set; }

    /// <summary>The controller state each sandbox's last Status was handed, as JSON.</summary>
    public ConcurrentDictionary<string, string> StateSeen { get; } = new();

    public async Task<ControllerStatus> StatusAsync(SandboxContext sandbox, bool verbose, CancellationToken cancellationToken)
    {
        var now = Interlocked.Increment(ref _statusInFlight);
        try
        {
            for (var peak = Volatile.Read(ref _statusPeak); now > peak; peak = Volatile.Read(ref _statusPeak))
            {
                Interlocked.CompareExchange(ref _statusPeak, now, peak);
            }

            await EnterAsync("Status").ConfigureAwait(false);
            StateSeen[sandbox.Id.Value] = sandbox.ControllerState.ToJsonString();
            await Task.Delay(StatusDelay, cancellationToken).ConfigureAwait(false);
            var phase = Known(sandbox.Id.Value);
            return new ControllerStatus { Ready = phase == Phase.Running, Pid = phase == Phase.Running ? SandboxPid : 0, TaskAddress = TaskAddress, TaskApiVersion = 2 };
        }
        finally
        {
            Interlocked.Decrement(ref _statusInFlight);
        }
    }

    public async Task ShutdownAsync(SandboxContext sandbox, CancellationToken cancellationToken)
    {
        await EnterAsync("Shutdown").ConfigureAwait(false);
        await Task.Delay(SlowDown, cancellationToken).ConfigureAwait(false);
        if (!_sandboxes.TryRemove(sandbox.Id.Value, out _))
        {
            throw IsolaException.NotFound($"fake: sandbox '{sandbox.Id}' not found");
        }

        // Shutdown releases everything the sandbox holds, prepared containers included.
        foreach (var key in Prepared.Keys.Where(k => k.StartsWith(sandbox.Id + "/", StringComparison.Ordinal)))
        {
            Prepared.TryRemove(key, out _);
        }

        ExitSource(sandbox.Id.Value).TrySetResult(new ExitStatus(137, DateTimeOffset.UtcNow));
    }

    private async Task EnterAsync(string operation)
    {
        _calls.AddOrUpdate(operation, 1, (_, n) => n + 1);
        await MaybeFailOrHang(operation).ConfigureAwait(false);
    }

    private async Task MaybeFailOrHang(string operation)
    {
        await Task.Yield();
        if (Failures.TryGetValue(operation, out var queue) && queue.TryDequeue(out var error))
        {
            throw error;
        }

        if (Hangs.ContainsKey(operation))
        {
            await Task.Delay(Timeout.Infinite, CancellationToken.None).ConfigureAwait(false);
        }
    }

    private Phase Known(string id) =>
        _sandboxes.TryGetValue(id, out var phase) ? phase : throw IsolaException.NotFound($"fake: sandbox '{id}' not found");

    private TaskCompletionSource<ExitStatus> ExitSource(string id) =>
        _exits.GetOrAdd(id, _ => new TaskCompletionSource<ExitStatus>(TaskCreationOptions.RunContinuationsAsynchronously));
}
