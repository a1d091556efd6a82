using System.Collections.Concurrent;
using System.Net.Sockets;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Isola.Ttrpc.Server;

/// <summary>
/// A ttrpc server: register handlers by service and method, then listen on a Unix socket or serve connected streams.
/// Requests on one connection are handled concurrently and answered as they finish.
/// </summary>
public sealed class TtrpcServer : IAsyncDisposable
{
    internal delegate Task<ReadOnlyMemory<byte>> Handler(ReadOnlyMemory<byte> payload, TtrpcServerStream? stream, TtrpcCallContext context);

    internal sealed record Method(Handler Handle, bool Streaming);

    private readonly ConcurrentDictionary<(string Service, string Method), Method> _methods = new();
    private readonly ConcurrentDictionary<ServerConnection, byte> _connections = new();
    private readonly ConcurrentDictionary<Task, byte> _serving = new();
    private readonly List<(Socket Socket, string? RemoveOnDispose, Task Loop)> _listeners = [];
    private readonly CancellationTokenSource _stopping = new();
    private readonly ILogger _logger;

    /// <summary>Creates a server with no methods.</summary>
    public TtrpcServer(ILogger? logger = null)
    {
        _logger = logger ?? NullLogger.Instance;
    }

    /// <summary>
    /// When true (the default), a Unix-socket peer whose uid (SO_PEERCRED) is not <see cref="RequiredPeerUid"/> is
    /// disconnected before any frame is read, as Go ttrpc servers do with UnixSocketRequireSameUser.
    /// </summary>
    public bool RequireSameUser { get; init; } = true;

    /// <summary>The uid peers must have when <see cref="RequireSameUser"/> is set; default this process's effective uid.</summary>
    public uint RequiredPeerUid { get; init; } = Native.LibC.geteuid();

    /// <summary>
    /// Maps an exception a handler threw to the status code of its response, so an application can keep throwing its
    /// own error type from handlers. Consulted for every exception but a <see cref="TtrpcException"/> (which keeps its
    /// code); null, or a null answer, leaves the built-in rules: a malformed request is INVALID_ARGUMENT, a
    /// cancellation CANCELLED, anything else UNKNOWN. The response's message is the exception's message either way.
    /// </summary>
    public Func<Exception, TtrpcStatusCode?>? ErrorStatus { get; init; }

    /// <summary>Registers a unary method. Exceptions from <paramref name="handler"/> become the response status (see
    /// <see cref="ErrorStatus"/>).</summary>
    public void AddUnary<TRequest, TResponse>(string service, string method, MessageParser<TRequest> requestParser,
        Func<TRequest, TtrpcCallContext, Task<TResponse>> handler)
        where TRequest : IMessage<TRequest>
        where TResponse : IMessage
    {
        Add(service, method, new Method(async (payload, _, context) =>
        {
            var request = requestParser.ParseFrom(payload.Span);
            var response = await handler(request, context).ConfigureAwait(false);
            return response.ToByteArray();
        }, Streaming: false));
    }

    /// <summary>Registers a streaming method: the handler reads and sends Data frames on the stream, and its return value
    /// is the final Response payload.</summary>
    public void AddStreaming(string service, string method, Func<TtrpcServerStream, TtrpcCallContext, Task<ReadOnlyMemory<byte>>> handler)
    {
        Add(service, method, new Method((_, stream, context) => handler(stream!, context), Streaming: true));
    }

    /// <summary>
    /// Binds a Unix socket at <paramref name="path"/> (mode 0600) and starts accepting. By default a stale socket file
    /// (nobody listening) is replaced, a socket another server still listens on or a path that is not a socket is
    /// refused, and the file is removed on dispose. With <see cref="UnixSocketTakeover.ReplaceAndKeep"/> the new socket
    /// is renamed over whatever is at the path (the caller has decided nobody else serves it) and the file stays after
    /// dispose: the path never goes missing, and a client dialling it after the server is gone is refused at once
    /// rather than left retrying on a missing file (what containerd's shims do).
    /// </summary>
    public void ListenUnix(string path, UnixSocketTakeover takeover = UnixSocketTakeover.RefuseLive)
    {
        if (takeover == UnixSocketTakeover.RefuseLive)
        {
            RemoveStaleSocket(path);
        }

        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            BindPrivately(socket, path, overwrite: takeover == UnixSocketTakeover.ReplaceAndKeep);
        }
        catch (Exception e) when (e is SocketException or IOException or UnauthorizedAccessException)
        {
            socket.Dispose();
            throw TtrpcException.Unavailable($"cannot listen on unix socket {path}: {e.Message}", e);
        }

        lock (_listeners)
        {
            _listeners.Add((socket, takeover == UnixSocketTakeover.ReplaceAndKeep ? null : path, Task.Run(() => AcceptLoopAsync(socket, path))));
        }
    }

    // bind() creates the socket file with the process umask (often 0755-ish), and a chmod after it leaves a window in
    // which anyone could connect. Binding inside a fresh 0700 directory, tightening the mode there and renaming it into
    // place means the socket is never reachable with a looser mode. (umask would do it too, but is process-wide.) It
    // listens before the rename, so whoever finds it at the path can connect.
    private static void BindPrivately(Socket socket, string path, bool overwrite)
    {
        if (OperatingSystem.IsWindows())
        {
            socket.Bind(new UnixDomainSocketEndPoint(path)); // no Unix modes there
            socket.Listen(64);
            return;
        }

        var directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        var staging = Path.Combine(directory, ".t" + Guid.NewGuid().ToString("N")[..6]); // short: the path limit is tight
        var staged = Path.Combine(staging, "s");
        if (System.Text.Encoding.UTF8.GetByteCount(staged) > MaxUnixPath)
        {
            throw new IOException($"no room for a private staging path next to {path} (unix socket paths are limited to {MaxUnixPath} bytes)");
        }

        Directory.CreateDirectory(staging, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        try
        {
            socket.Bind(new UnixDomainSocketEndPoint(staged));
            File.SetUnixFileMode(staged, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            socket.Listen(64);
            File.Move(staged, path, overwrite);
        }
        finally
        {
            Directory.Delete(staging, recursive: true);
        }
    }

    private const int MaxUnixPath = 107;

    private static void RemoveStaleSocket(string path)
    {
        switch (Native.LibC.IsSocket(path))
        {
            case null:
                return;
            case false:
                throw TtrpcException.AlreadyExists($"cannot listen on unix socket {path}: the path exists and is not a socket");
        }

        if (IsListening(path))
        {
            throw TtrpcException.AlreadyExists($"cannot listen on unix socket {path}: another server is listening on it");
        }

        File.Delete(path); // stale: its server is gone
    }

    /// <summary>True when a server accepts connections on the Unix socket <paramref name="path"/>; false for a missing
    /// path or a socket file nobody listens on.</summary>
    public static bool IsListening(string path)
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

    /// <summary>Serves one connected stream until it closes or the server is disposed.</summary>
    public async Task ServeAsync(Stream stream, string peer = "stream")
    {
        var connection = new ServerConnection(this, stream, peer, _logger, _stopping.Token);
        _connections[connection] = 0;
        try
        {
            await connection.RunAsync().ConfigureAwait(false);
        }
        finally
        {
            _connections.TryRemove(connection, out _);
        }
    }

    internal Method? Find(string service, string method) => _methods.GetValueOrDefault((service, method));

    internal TtrpcStatusCode StatusOf(Exception exception) => exception switch
    {
        TtrpcException e => e.Code,
        _ when ErrorStatus?.Invoke(exception) is { } code => code,
        InvalidProtocolBufferException => TtrpcStatusCode.InvalidArgument,
        OperationCanceledException => TtrpcStatusCode.Cancelled,
        _ => TtrpcStatusCode.Unknown,
    };

    private void Add(string service, string method, Method entry)
    {
        if (!_methods.TryAdd((service, method), entry))
        {
            throw TtrpcException.AlreadyExists($"ttrpc method {service}/{method} is already registered");
        }
    }

    private async Task AcceptLoopAsync(Socket listener, string path)
    {
        while (!_stopping.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await listener.AcceptAsync(_stopping.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }

            if (RequireSameUser && PeerUid(client) is var uid && uid != RequiredPeerUid)
            {
                _logger.LogWarning("ttrpc on {Path}: refused a peer with uid {Uid} (only uid {Required} may connect)", path,
                    uid?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "unknown", RequiredPeerUid);
                client.Dispose();
                continue;
            }

            // Kept until it ends, so that DisposeAsync waits for it and nothing runs unobserved.
            var serving = ServeAsync(new NetworkStream(client, ownsSocket: true), path);
            _serving[serving] = 0;
            _ = serving.ContinueWith(t => _serving.TryRemove(t, out _), CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
    }

    // struct ucred { pid_t pid; uid_t uid; gid_t gid; } from SO_PEERCRED: the peer's credentials when it connected.
    private static uint? PeerUid(Socket client)
    {
        const int SolSocket = 1;
        const int SoPeerCred = 17;
        Span<byte> ucred = stackalloc byte[12];
        try
        {
            return client.GetRawSocketOption(SolSocket, SoPeerCred, ucred) == ucred.Length
                ? System.Runtime.InteropServices.MemoryMarshal.Read<uint>(ucred[4..])
                : null;
        }
        catch (SocketException)
        {
            return null;
        }
    }

    /// <summary>Stops listening (removing the socket files it owns), closes every connection and waits for the loops to end.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_stopping.IsCancellationRequested)
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        List<(Socket Socket, string? RemoveOnDispose, Task Loop)> listeners;
        lock (_listeners)
        {
            listeners = [.. _listeners];
        }

        foreach (var (socket, path, loop) in listeners)
        {
            socket.Dispose();
            await loop.ConfigureAwait(false);
            if (path is not null)
            {
                File.Delete(path);
            }
        }

        foreach (var connection in _connections.Keys)
        {
            await connection.DisposeAsync().ConfigureAwait(false);
        }

        await Task.WhenAll(_serving.Keys).ConfigureAwait(false);
    }
}

/// <summary>What <see cref="TtrpcServer.ListenUnix"/> does with the path it listens on.</summary>
public enum UnixSocketTakeover
{
    /// <summary>Replace only a stale socket file, refuse a live one or a non-socket, remove the file on dispose.</summary>
    RefuseLive,

    /// <summary>Rename the new socket over whatever is there, and leave the file on dispose (refusing connections).</summary>
    ReplaceAndKeep,
}
