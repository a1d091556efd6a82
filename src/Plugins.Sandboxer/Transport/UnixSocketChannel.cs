using System.Net.Sockets;
using Grpc.Net.Client;

namespace Isola.Plugins.Sandboxer.Transport;

/// <summary>Builds a gRPC channel (h2c with prior knowledge) whose every connection is a Unix socket.</summary>
internal static class UnixSocketChannel
{
    /// <summary>A channel to <paramref name="socketPath"/>. The "http://localhost" authority is never resolved.</summary>
    public static GrpcChannel Create(string socketPath)
    {
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = (_, ct) => ConnectAsync(socketPath, ct),
            // Wait is one long call: pings notice a peer that vanished without closing the connection.
            KeepAlivePingDelay = TimeSpan.FromSeconds(20),
            KeepAlivePingTimeout = TimeSpan.FromSeconds(5),
            KeepAlivePingPolicy = HttpKeepAlivePingPolicy.WithActiveRequests,
            PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
            // Many concurrent Waits (one per sandbox) must not queue behind HTTP/2's stream limit.
            EnableMultipleHttp2Connections = true,
        };
        return GrpcChannel.ForAddress("http://localhost", new GrpcChannelOptions
        {
            HttpHandler = handler,
            DisposeHttpClient = true,
            MaxReceiveMessageSize = 16 << 20,
        });
    }

    private static async ValueTask<Stream> ConnectAsync(string socketPath, CancellationToken cancellationToken)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), cancellationToken).ConfigureAwait(false);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch (SocketException e)
        {
            socket.Dispose();
            // The raw error names "localhost:80"; name the socket instead. .NET reports a missing socket file as
            // "Cannot assign requested address", which sends readers looking at IP addresses.
            var reason = File.Exists(socketPath) ? e.Message : "no such socket (is the sandboxer running?)";
            throw new SandboxerConnectException($"cannot connect to {socketPath}: {reason}", e);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}

/// <summary>No connection to the sandboxer could be made, so no request of the call that asked for it left this
/// process. The controller relies on the type (not the text) to tell "never sent" from "sent, then lost".</summary>
internal sealed class SandboxerConnectException(string message, SocketException inner) : HttpRequestException(message, inner);
