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
    private readonly List<(Socket Socket, string Path, Task Loop)> _listeners = [];
    private readonly CancellationTokenSource _stopping = new();
    private readonly ILogger _logger;

    /// <summary>Creates a server with no methods.</summary>
    public TtrpcServer(ILogger? logger = null)
    {
        _logger = logger ?? NullLogger.Instance;
    }

    /// <summary>Registers a unary method. Exceptions from <paramref name="handler"/> become the response status:
    /// an <see cref="IsolaException"/> keeps its code; anything else is UNKNOWN.</summary>
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
    /// Binds a Unix socket at <paramref name="path"/> (mode 0600) and starts accepting. A stale socket file (nobody
    /// listening) is replaced; a socket another server still listens on, or a path that is not a socket, is refused.
    /// </summary>
    public void ListenUnix(string path)
    {
        RemoveStaleSocket(path);

        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Bind(new UnixDomainSocketEndPoint(path));
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }

            socket.Listen(64);
        }
        catch (SocketException e)
        {
            socket.Dispose();
            throw IsolaException.Unavailable($"cannot listen on unix socket {path}: {e.Message}", e);
        }

        lock (_listeners)
        {
            _listeners.Add((socket, path, Task.Run(() => AcceptLoopAsync(socket, path))));
        }
    }

    private static void RemoveStaleSocket(string path)
    {
        switch (Native.LibC.IsSocket(path))
        {
            case null:
                return;
            case false:
                throw IsolaException.AlreadyExists($"cannot listen on unix socket {path}: the path exists and is not a socket");
        }

        using (var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            try
            {
                probe.Connect(new UnixDomainSocketEndPoint(path));
                throw IsolaException.AlreadyExists($"cannot listen on unix socket {path}: another server is listening on it");
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionRefused or SocketError.AddressNotAvailable)
            {
                // stale: its server is gone
            }
        }

        File.Delete(path);
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

    private void Add(string service, string method, Method entry)
    {
        if (!_methods.TryAdd((service, method), entry))
        {
            throw IsolaException.AlreadyExists($"ttrpc method {service}/{method} is already registered");
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

            _ = ServeAsync(new NetworkStream(client, ownsSocket: true), path);
        }
    }

    /// <summary>Stops listening (removing the socket files), closes every connection and waits for the loops to end.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_stopping.IsCancellationRequested)
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        List<(Socket Socket, string Path, Task Loop)> listeners;
        lock (_listeners)
        {
            listeners = [.. _listeners];
        }

        foreach (var (socket, path, loop) in listeners)
        {
            socket.Dispose();
            await loop.ConfigureAwait(false);
            File.Delete(path);
        }

        foreach (var connection in _connections.Keys)
        {
            await connection.DisposeAsync().ConfigureAwait(false);
        }
    }
}
