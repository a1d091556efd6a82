using System.Text.RegularExpressions;
using Isola.Plugins.Shim.Controller;
using Microsoft.Extensions.Logging;

namespace Isola.Plugins.Shim.Events;

/// <summary>
/// The TTRPC_ADDRESS of every shim of one state root and runtime: a stable socket path whose file exists before any
/// shim starts and stays while any shim given it lives. A shim keeps its TTRPC_ADDRESS for life and publishes
/// synchronously; containerd 1.6's dialer retries a missing socket every 10 ms for 5 s per event (so a shim whose
/// endpoint vanished takes seconds to exit after Shutdown), but fails at once on a socket nobody listens on. So the file
/// is either served by a live host that wants events, or a bound socket nobody listens on, never missing; which process
/// started the shim, and whether it still lives, no longer matters.
/// </summary>
/// <remarks>
/// Races between processes: creating the file is bind(2), which fails when anything is there, so it never replaces a
/// live listener; taking over is rename(2) of a listening socket over a path found dead, so the path never goes
/// missing (two hosts taking over at once: the last rename wins, and both paths stay valid). Launches hold a shared
/// flock on the directory across <c>shim start</c>; unlinking the file needs the exclusive lock and finds no live shim
/// that was given the path, so the file cannot vanish under a shim being started.
/// </remarks>
internal sealed partial class EventsEndpoint : IAsyncDisposable
{
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private bool _serve;
    private ShimEventsServer? _server;
    private bool _used;
    private bool _disposed;

    /// <param name="path">The socket path (under <see cref="ShimControllerFactory.EventsDirectory"/>).</param>
    /// <param name="serve">Listen for events while this host lives (a long-lived host); otherwise only keep the file.</param>
    /// <param name="logger">Where takeovers and tidy-ups are logged.</param>
    public EventsEndpoint(string path, bool serve, ILogger logger)
    {
        Path = path;
        _serve = serve;
        _logger = logger;
    }

    /// <summary>The socket path shims are given as TTRPC_ADDRESS.</summary>
    public string Path { get; }

    private string Directory => System.IO.Path.GetDirectoryName(Path)!;

    /// <summary>The server listening on <see cref="Path"/> for this host: from the first access on, this host serves
    /// events whenever no other live host does (checked again at every shim launch).</summary>
    public ShimEventsServer? Server
    {
        get
        {
            lock (_gate)
            {
                _serve = true;
            }

            using (Prepare())
            {
                lock (_gate)
                {
                    return _server;
                }
            }
        }
    }

    /// <summary>True once this host started or removed shims: disposing it then tidies up.</summary>
    public bool Used
    {
        get
        {
            lock (_gate)
            {
                return _used;
            }
        }
    }

    /// <summary>Notes that this host started or removed shims, so disposing it tidies the endpoint up.</summary>
    public void MarkUsed()
    {
        lock (_gate)
        {
            _used = true;
        }
    }

    /// <summary>Makes sure <see cref="Path"/> exists (listening, when this host serves events) and keeps it from being
    /// unlinked until the returned lock is disposed: hold it across <c>shim start</c>.</summary>
    public IDisposable Prepare()
    {
        MarkUsed();
        System.IO.Directory.CreateDirectory(Directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var held = DirectoryLock.Shared(Directory);
        try
        {
            lock (_gate)
            {
                ObjectDisposedException.ThrowIf(_disposed, this);
                if (_serve && !ShimEventsServer.IsLive(Path))
                {
                    // Nobody serves it (this host's earlier server included, if another took over and then went): serve it.
                    TakeOver();
                }
                else if (!_serve)
                {
                    CreateIfMissing(Path);
                }
            }

            return held;
        }
        catch
        {
            held.Dispose();
            throw;
        }
    }

    /// <summary>Stops serving, and unlinks endpoints (this one, those of other state roots whose last host went while
    /// a launch held the lock, and sockets of hosts from before endpoints existed) that no live shim was given and
    /// nobody serves.</summary>
    public async ValueTask DisposeAsync()
    {
        ShimEventsServer? server;
        bool used;
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            (server, used) = (_server, _used);
        }

        if (server is not null)
        {
            await server.DisposeAsync().ConfigureAwait(false);
        }

        if (used && System.IO.Directory.Exists(Directory))
        {
            await TidyUpAsync().ConfigureAwait(false);
        }
    }

    // Serving events is a nicety; starting shims is not: failing to listen leaves the endpoint refusing instead.
    private void TakeOver()
    {
        var old = _server;
        try
        {
            _server = new ShimEventsServer(Path, _logger);
            _logger.LogDebug("serving shim events on {Path}", Path);
        }
        catch (IsolaException e)
        {
            _server = null;
            _logger.LogWarning("{Error}; shims of this state root publish to a socket that refuses", e.Message);
            CreateIfMissing(Path);
        }

        _ = old?.DisposeAsync().AsTask();
    }

    // bind(2) creates the socket file atomically and fails (EADDRINUSE) when anything is at the path, live or not: it
    // never replaces another host's listener. The socket is closed at once: connecting then fails with ECONNREFUSED.
    internal static void CreateIfMissing(string path)
    {
        var errno = Native.LibC.BindUnixSocketFile(path);
        if (errno is not (0 or EAddrInUse))
        {
            throw IsolaException.Internal($"cannot create the shim events socket {path}: {System.Runtime.InteropServices.Marshal.GetPInvokeErrorMessage(errno)}");
        }
    }

    private const int EAddrInUse = 98;

    private async Task TidyUpAsync()
    {
        // A launch holds the shared lock only across `shim start`: worth waiting a moment for, or the endpoint of a state
        // root whose last host this is would stay (a later host of any root sweeps it, though).
        using var held = await DirectoryLock.TryExclusiveAsync(Directory, TimeSpan.FromSeconds(1)).ConfigureAwait(false);
        if (held is null)
        {
            _logger.LogDebug("shim launches kept {Directory} busy; leaving its tidy-up to the next host", Directory);
            return;
        }

        // Under the exclusive lock no shim is being started, so every shim that was given an endpoint shows in /proc.
        var needed = ShimProcesses.EventsAddressesOfLiveShims();
        foreach (var endpoint in System.IO.Directory.EnumerateFiles(Directory, "*.sock.ttrpc"))
        {
            if (!needed.Contains(endpoint) && !ShimEventsServer.IsLive(endpoint))
            {
                TryDelete(endpoint);
            }
        }

        // Earlier versions gave each host process its own events-PID-RANDOM.sock and left it behind when killed. Gone
        // once its process is gone and no live shim still publishes to it (for such a shim the file refuses at once).
        foreach (var file in System.IO.Directory.EnumerateFiles(Directory, "events-*.sock"))
        {
            if (LegacySocket().Match(System.IO.Path.GetFileName(file)) is { Success: true } m &&
                !System.IO.Directory.Exists("/proc/" + m.Groups[1].Value) && !needed.Contains(file))
            {
                TryDelete(file);
            }
        }
    }

    private void TryDelete(string file)
    {
        try
        {
            File.Delete(file);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _logger.LogDebug("cannot remove the shim events socket {Path}: {Error}", file, e.Message);
        }
    }

    [GeneratedRegex("^events-([0-9]+)-[0-9a-f]+\\.sock$")]
    private static partial Regex LegacySocket();
}
