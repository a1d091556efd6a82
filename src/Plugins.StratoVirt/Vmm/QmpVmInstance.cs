using System.Text.Json;
using System.Text.Json.Nodes;
using Isola.Plugins.StratoVirt.Native;
using Isola.Plugins.StratoVirt.Qmp;
using Isola.Plugins.StratoVirt.Vmm.Hotplug;
using Isola.Plugins.StratoVirt.Vmm.Processes;
using Isola.Vmm;
using Microsoft.Extensions.Logging;

namespace Isola.Plugins.StratoVirt.Vmm;

/// <summary>
/// A running VM driven over QMP: status, pause/resume, block and NIC hot-plug with slot bookkeeping, stop (quit, then
/// SIGKILL after a grace) and exit watching (pidfd). The VMM is a daemon, not our child, so its wait status is not
/// observable: the exit code is derived from the SHUTDOWN event (0 for a clean quit or guest poweroff, 1 for a guest
/// reset or panic) and is 137 when the process vanished without one (killed or crashed).
/// </summary>
internal sealed partial class QmpVmInstance : IVmInstance
{
    /// <summary>Exit code reported when the VMM disappeared without a SHUTDOWN event.</summary>
    public const uint KilledExitCode = 137;

    private readonly string _id;
    private readonly VmLayout _layout;
    private readonly ProcessIdentity _vmm;
    private readonly ProcessIdentity? _virtiofsd;
    private readonly SemaphoreSlim _reconnect = new(1, 1);
    private QmpClient _qmp;
    private readonly SlotAllocator _slots;
    private readonly string _dialect;
    private readonly TimeSpan _unplugTimeout;
    private readonly ILogger _logger;
    private IDisposable _shutdownSubscription;
    private readonly Task<ExitStatus> _exit;
    private readonly CancellationTokenSource _watchCts = new();
    private volatile QmpEvent? _shutdown;
    private volatile bool _quitRequested;
    private volatile bool _killed;

    public QmpVmInstance(string id, string dialect, VmLayout layout, ProcessIdentity vmm, ProcessIdentity? virtiofsd,
        QmpClient qmp, SlotAllocator slots, TimeSpan unplugTimeout, ILogger logger)
    {
        _id = id;
        _dialect = dialect;
        _layout = layout;
        _vmm = vmm;
        _virtiofsd = virtiofsd;
        _qmp = qmp;
        _slots = slots;
        _unplugTimeout = unplugTimeout;
        _logger = logger;
        _shutdownSubscription = qmp.Subscribe(OnEvent);
        _exit = WatchExitAsync();
        _ = ReconnectWhenAbandonedAsync(qmp);
    }

    public int Pid => _vmm.Pid;

    public string ManagementSocket => _layout.QmpSocket;

    /// <summary>The QMP connection, for callers that need events or commands beyond this interface.</summary>
    internal QmpClient Qmp => _qmp;

    public IReadOnlyList<PluggedDevice> Devices => _slots.Devices;

    /// <summary>The slot a plugged device occupies, or null.</summary>

    public IReadOnlyDictionary<string, string> RecoveryData
    {
        get
        {
            var d = new Dictionary<string, string>
            {
                [RecoveryKeys.Dialect] = _dialect,
                [RecoveryKeys.Vmm] = _vmm.ToString(),
                [RecoveryKeys.Qmp] = _layout.QmpSocket,
                [RecoveryKeys.Devices] = JsonSerializer.Serialize(_slots.Devices),
            };
            if (_virtiofsd is { } v)
            {
                d[RecoveryKeys.Virtiofsd] = v.ToString();
            }

            return d;
        }
    }

    public async Task<VmStatus> StatusAsync(CancellationToken cancellationToken)
    {
        if (!_vmm.IsAlive())
        {
            return new VmStatus("shutdown", false);
        }

        var r = await ExecuteAsync("query-status", null, cancellationToken).ConfigureAwait(false) as JsonObject;
        return new VmStatus(r?["status"]?.GetValue<string>() ?? "unknown", r?["running"]?.GetValue<bool>() ?? false);
    }

    /// <summary>The host thread ids of the vCPUs (to place them in a cgroup). StratoVirt has only <c>query-cpus</c>
    /// (<c>thread_id</c>); QEMU removed it in 6.0 for <c>query-cpus-fast</c> (<c>thread-id</c>).</summary>
    internal async Task<IReadOnlyList<int>> VcpuThreadsAsync(CancellationToken cancellationToken)
    {
        var stratovirt = _dialect == StratoVirtVmm.VmmName;
        var reply = await ExecuteAsync(stratovirt ? "query-cpus" : "query-cpus-fast", null, cancellationToken).ConfigureAwait(false) as JsonArray;
        return [.. (reply ?? []).Select(c => c?[stratovirt ? "thread_id" : "thread-id"]?.GetValue<int>() ?? 0)];
    }

    /// <inheritdoc />
    public async Task<IReadOnlyDictionary<string, string>> DetailsAsync(CancellationToken cancellationToken) =>
        new Dictionary<string, string> { ["vcpu.threads"] = string.Join(',', await VcpuThreadsAsync(cancellationToken).ConfigureAwait(false)) };

    public async Task PauseAsync(CancellationToken cancellationToken) =>
        await ExecuteAsync("stop", null, cancellationToken).ConfigureAwait(false);

    public async Task ResumeAsync(CancellationToken cancellationToken) =>
        await ExecuteAsync("cont", null, cancellationToken).ConfigureAwait(false);

    public async Task StopAsync(TimeSpan grace, CancellationToken cancellationToken)
    {
        if (_vmm.IsAlive())
        {
            _quitRequested = true;
            // The whole graceful phase is bounded by the grace period: a VMM that does not even answer QMP is killed
            // as soon as one that answers but does not exit.
            var quit = QuitAsync(grace, cancellationToken);
            var exited = await Task.WhenAny(_exit, Task.Delay(grace, cancellationToken)).ConfigureAwait(false) == _exit;
            await quit.ConfigureAwait(false);
            if (!exited)
            {
                _killed = true;
                _logger.LogWarning("VM {Id}: VMM pid {Pid} ignored quit for {Grace} s; sending SIGKILL", _id, _vmm.Pid, grace.TotalSeconds);
                await VmmLauncher.KillAndWaitAsync(_vmm, TimeSpan.FromSeconds(10)).ConfigureAwait(false);
            }
        }

        await StopVirtiofsdAsync().ConfigureAwait(false);
        foreach (var path in new[] { _layout.QmpSocket, _layout.PidFile, _layout.AgentSocket, _layout.VirtiofsSocket })
        {
            File.Delete(path);
        }
    }

    public Task<ExitStatus> WaitAsync(CancellationToken cancellationToken) => _exit.WaitAsync(cancellationToken);

    /// <summary>Closes the QMP connection and stops watching, leaving the VM running (a host shutting down).</summary>
    public async ValueTask DisposeAsync()
    {
        await _watchCts.CancelAsync().ConfigureAwait(false);
        await _reconnect.WaitAsync().ConfigureAwait(false);
        try
        {
            _shutdownSubscription.Dispose();
            await _qmp.DisposeAsync().ConfigureAwait(false);
        }
        finally
        {
            _reconnect.Release();
        }
    }

    private async Task<ExitStatus> WatchExitAsync()
    {
        try
        {
            await ProcessExitWatcher.WaitForExitAsync(_vmm, _watchCts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            throw IsolaException.Unavailable($"VM {_id}: stopped watching VMM pid {_vmm.Pid} (instance disposed)");
        }

        var at = DateTimeOffset.UtcNow;
        // A SHUTDOWN event may still be in the socket when the process goes; give the reader a moment to deliver it.
        await Task.WhenAny(_qmp.Closed, Task.Delay(500)).ConfigureAwait(false);
        var code = _shutdown?.DataString("reason") switch
        {
            "host-qmp-quit" or "guest-shutdown" or "host-signal" or "host-qmp-system-reset" => 0u,
            null => _quitRequested && !_killed ? 0u : KilledExitCode,
            _ => 1u,
        };
        _logger.LogInformation("VM {Id}: VMM pid {Pid} exited (reported code {Code})", _id, _vmm.Pid, code);
        return new ExitStatus(code, at);
    }

    private void OnEvent(QmpEvent e)
    {
        if (e.Name == "SHUTDOWN")
        {
            _shutdown = e;
        }
    }

    /// <summary>The QMP connection, connected again when the last one was abandoned after a command got no reply in
    /// time (<see cref="QmpClient.IsAbandoned"/>); a connection closed for any other reason is left as it is.</summary>
    private async Task<QmpClient> QmpAsync(CancellationToken cancellationToken)
    {
        if (!_qmp.IsAbandoned)
        {
            return _qmp;
        }

        await _reconnect.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_qmp.IsAbandoned)
            {
                ObjectDisposedException.ThrowIf(_watchCts.IsCancellationRequested, this);
                var old = _qmp;
                _shutdownSubscription.Dispose();
                await old.DisposeAsync().ConfigureAwait(false);
                _logger.LogInformation("VM {Id}: connecting to QMP {Socket} again after an abandoned command", _id, old.SocketPath);
                var fresh = await old.ConnectAgainAsync(cancellationToken).ConfigureAwait(false);
                _shutdownSubscription = fresh.Subscribe(OnEvent);
                _qmp = fresh;
                _ = ReconnectWhenAbandonedAsync(fresh);
            }

            return _qmp;
        }
        finally
        {
            _reconnect.Release();
        }
    }

    private async Task<JsonNode?> ExecuteAsync(string command, JsonObject? arguments, CancellationToken cancellationToken,
        TimeSpan? timeout = null) =>
        await (await QmpAsync(cancellationToken).ConfigureAwait(false))
            .ExecuteAsync(command, arguments, cancellationToken, timeout).ConfigureAwait(false);

    /// <summary>Reconnects as soon as a connection is abandoned, not only at the next command, so a Wait still gets the
    /// SHUTDOWN event that gives the exit code.</summary>
    private async Task ReconnectWhenAbandonedAsync(QmpClient client)
    {
        await client.Closed.ConfigureAwait(false);
        if (!client.IsAbandoned || _watchCts.IsCancellationRequested || !_vmm.IsAlive())
        {
            return;
        }

        try
        {
            await QmpAsync(_watchCts.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IsolaException or OperationCanceledException or ObjectDisposedException)
        {
            _logger.LogWarning("VM {Id}: QMP reconnect after an abandoned command failed ({Reason}); the next operation retries", _id, e.Message);
        }
    }

    private async Task StopVirtiofsdAsync()
    {
        if (_virtiofsd is not { } v)
        {
            return;
        }

        // The daemon normally exits when the VMM disconnects; give it a moment, then SIGKILL.
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(1));
        try
        {
            await ProcessExitWatcher.WaitForExitAsync(v, cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            await VmmLauncher.KillAndWaitAsync(v, TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }

    }

    private async Task QuitAsync(TimeSpan grace, CancellationToken cancellationToken)
    {
        try
        {
            await ExecuteAsync("quit", null, cancellationToken, grace).ConfigureAwait(false);
        }
        catch (IsolaException e) when (e.Code is IsolaErrorCode.Unavailable or IsolaErrorCode.DeadlineExceeded)
        {
            // The socket closing under "quit" is the normal QEMU ending; an unresponsive VMM gets SIGKILL.
        }
    }
}
