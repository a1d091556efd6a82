using System.Collections.Concurrent;
using System.Net.Sockets;
using Google.Protobuf.WellKnownTypes;
using Isola.Plugins.Shim.Native;
using Isola.Plugins.Shim.Protos.Events;
using Isola.Ttrpc.Server;
using Microsoft.Extensions.Logging;

namespace Isola.Plugins.Shim.Events;

/// <summary>
/// Serves containerd.services.events.ttrpc.v1.Events/Forward on an events endpoint (see <see cref="EventsEndpoint"/>).
/// It accepts connections itself instead of through <see cref="TtrpcServer.ListenUnix"/>, whose server unlinks its socket
/// on dispose and deletes a stale one before binding: either leaves the path missing for a moment, and a shim that
/// dials a missing socket retries for 5 s per event. Here the listening socket is renamed over the path (atomic), and
/// on dispose the file stays, refusing connections at once, until the endpoint decides nobody needs it.
/// </summary>
internal sealed class ShimEventsServer : IAsyncDisposable
{
    public const string Service = "containerd.services.events.ttrpc.v1.Events";

    private readonly TtrpcServer _server;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentDictionary<Task, byte> _serving = new();
    private readonly Socket _listener;
    private readonly Task _accepting;
    private long _received;

    /// <summary>Listens on a fresh socket and renames it over <paramref name="path"/>, replacing what is there. The
    /// caller makes sure nobody else listens there (see <see cref="IsLive"/>).</summary>
    public ShimEventsServer(string path, ILogger logger)
    {
        _logger = logger;
        SocketPath = path;
        _server = new TtrpcServer(logger);
        _server.AddUnary(Service, "Forward", ForwardRequest.Parser, ForwardAsync);
        _listener = ListenPrivately(path);
        _accepting = Task.Run(AcceptLoopAsync);
    }

    /// <summary>The socket it listens on.</summary>
    public string SocketPath { get; }

    /// <summary>Envelopes received so far, of any topic.</summary>
    public long Received => Interlocked.Read(ref _received);

    /// <summary>True when a server accepts connections on <paramref name="path"/>; false for a missing path or a socket
    /// file nobody listens on (which refuses at once).</summary>
    public static bool IsLive(string path)
    {
        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            probe.Connect(new UnixDomainSocketEndPoint(path));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_stopping.IsCancellationRequested)
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        _listener.Dispose();
        await _accepting.ConfigureAwait(false);
        await _server.DisposeAsync().ConfigureAwait(false); // closes the connections ServeAsync runs
        await Task.WhenAll(_serving.Keys).ConfigureAwait(false);
        _stopping.Dispose();
    }

    // Bound inside a fresh 0700 directory and made 0600 there before the rename, so it is never reachable with a looser
    // mode; rename(2) replaces a dead socket file without the path ever going missing.
    private static Socket ListenPrivately(string path)
    {
        var staging = Path.Combine(Path.GetDirectoryName(path)!, ".l" + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(4)));
        Directory.CreateDirectory(staging, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            var staged = Path.Combine(staging, "s");
            socket.Bind(new UnixDomainSocketEndPoint(staged));
            File.SetUnixFileMode(staged, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            socket.Listen(64);
            File.Move(staged, path, overwrite: true);
            return socket;
        }
        catch (Exception e) when (e is SocketException or IOException or UnauthorizedAccessException)
        {
            socket.Dispose();
            throw IsolaException.Internal($"cannot listen for shim events on {path}: {e.Message}", e);
        }
        finally
        {
            Directory.Delete(staging, recursive: true);
        }
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stopping.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptAsync(_stopping.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }

            // Same-user peers only, as Go ttrpc servers (and Isola.Ttrpc's own listener) require.
            if (PeerUid(client) != LibC.geteuid())
            {
                _logger.LogWarning("shim events on {Path}: refused a peer of another uid", SocketPath);
                client.Dispose();
                continue;
            }

            var serving = _server.ServeAsync(new NetworkStream(client, ownsSocket: true), SocketPath);
            _serving[serving] = 0;
            _ = serving.ContinueWith(t => _serving.TryRemove(t, out _), CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
    }

    // struct ucred { pid_t pid; uid_t uid; gid_t gid; } from SO_PEERCRED.
    private static uint? PeerUid(Socket client)
    {
        Span<byte> ucred = stackalloc byte[12];
        try
        {
            return client.GetRawSocketOption(1 /* SOL_SOCKET */, 17 /* SO_PEERCRED */, ucred) == ucred.Length
                ? System.Runtime.InteropServices.MemoryMarshal.Read<uint>(ucred[4..])
                : null;
        }
        catch (SocketException)
        {
            return null;
        }
    }

    // Exits are observed through Task.Wait (a shim publishes wherever the endpoint of its state root points, whoever
    // started it); events are served so shims have a live endpoint, and logged for diagnosis.
    private Task<Empty> ForwardAsync(ForwardRequest request, TtrpcCallContext context)
    {
        Interlocked.Increment(ref _received);
        var envelope = request.Envelope;
        if (envelope?.Event is { } any && envelope.Topic == "/tasks/exit" && any.TypeUrl.EndsWith("containerd.events.TaskExit", StringComparison.Ordinal))
        {
            var exit = TaskExit.Parser.ParseFrom(any.Value);
            _logger.LogDebug("task exit: {Namespace}/{Container}/{Exec} pid {Pid} status {Status}", envelope.Namespace,
                exit.ContainerId, exit.Id, exit.Pid, exit.ExitStatus);
        }

        return Task.FromResult(new Empty());
    }
}
