using Isola.Agent.Native;
using Isola.Ttrpc.Server;
using Microsoft.Extensions.Logging;

namespace Isola.Agent.Guest;

/// <summary>
/// Serves ttrpc on the virtio-serial port agent.0, one host connection after another. QEMU's socket chardev serves one
/// client at a time; when it disconnects the guest reads EOF and poll reports POLLHUP until the next client arrives.
/// Each connection gets a fresh ttrpc framing state (a new session over the same descriptor). The port stays open
/// across sessions: closing it discards whatever the next host already sent (virtio_console drops unread data on
/// release), and a host that connects right after the previous one left would wait forever for its first answer.
/// </summary>
internal sealed class SerialPortServer
{
    private static readonly TimeSpan s_retry = TimeSpan.FromMilliseconds(100);

    // How often a port without a host is looked at again: short, because the next host (a new host process, or the
    // executor right after the readiness check) waits for its first answer meanwhile. Shorter still just after a session
    // ended, when the next one usually follows within milliseconds (the host's executor connects for its first
    // container right after the readiness check's connection closed), then relaxed to keep an idle guest quiet.
    private static readonly TimeSpan s_hostPoll = TimeSpan.FromMilliseconds(20);
    private static readonly TimeSpan s_eagerHostPoll = TimeSpan.FromMilliseconds(2);
    private static readonly TimeSpan s_eagerFor = TimeSpan.FromSeconds(1);

    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TtrpcServer _server;
    private readonly ILogger _logger;
    private readonly string _sysRoot;

    public SerialPortServer(TtrpcServer server, ILogger logger, string sysRoot = "/sys")
    {
        _server = server;
        _logger = logger;
        _sysRoot = sysRoot;
    }

    /// <summary>Completes once the port was found and is served.</summary>
    public Task Ready => _ready.Task;

    /// <summary>Serves until the process ends.</summary>
    public async Task RunAsync()
    {
        var device = await FindPortAsync().ConfigureAwait(false);
        _logger.LogInformation("serving the Task API on virtio-serial port {Name} ({Device})", VirtioPorts.AgentPortName, device);
        _ready.TrySetResult();
        int fd;
        while ((fd = LibC.open(device, LibC.O_RDWR | LibC.O_CLOEXEC | LibC.O_NOCTTY, 0)) < 0)
        {
            _logger.LogWarning("cannot open {Device}: {Error}", device, LibC.LastError());
            await Task.Delay(s_retry).ConfigureAwait(false);
        }

        while (true)
        {
            await WaitForHostAsync(fd).ConfigureAwait(false);
            try
            {
                // The session's stream does not own the descriptor: a late answer of the old session fails instead of
                // reaching the next host.
                await _server.ServeAsync(new FdStream(fd, ownsFd: false), device).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException)
            {
                _logger.LogInformation("host connection on {Device} ended: {Error}", device, e.Message);
            }

            // The agent's footprint, on the console once per host session (the VM benchmark reads it).
            _logger.LogInformation("host session on {Device} over; ISOLA-AGENT-RSS-KB {Rss}", device, ResidentKilobytes());
        }
    }

    private static string ResidentKilobytes()
    {
        try
        {
            var line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
            return line?.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1] ?? "?";
        }
        catch (IOException)
        {
            return "?";
        }
    }

    private async Task<string> FindPortAsync()
    {
        var warned = false;
        while (true)
        {
            if (VirtioPorts.Find(VirtioPorts.AgentPortName, _sysRoot) is { } device && File.Exists(device))
            {
                return device;
            }

            if (!warned)
            {
                _logger.LogWarning("no virtio-serial port named {Name} yet; waiting for it", VirtioPorts.AgentPortName);
                warned = true;
            }

            await Task.Delay(s_retry).ConfigureAwait(false);
        }
    }

    /// <summary>Returns once a host is connected: poll stops reporting POLLHUP.</summary>
    private static unsafe Task WaitForHostAsync(int fd) => Task.Factory.StartNew(() =>
    {
        var since = Environment.TickCount64;
        while (true)
        {
            var poll = new LibC.PollFd { Fd = fd, Events = LibC.POLLIN };
            var ready = LibC.poll(&poll, 1, (int)s_retry.TotalMilliseconds);
            // A quiet port (timeout) or pending data without POLLHUP both mean a host is on the other end.
            if (ready == 0 || (ready > 0 && (poll.Revents & LibC.POLLHUP) == 0))
            {
                return;
            }

            if (ready > 0)
            {
                // POLLHUP returns at once while nobody is connected.
                Thread.Sleep(Environment.TickCount64 - since < s_eagerFor.TotalMilliseconds ? s_eagerHostPoll : s_hostPoll);
            }
        }
    }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
}
