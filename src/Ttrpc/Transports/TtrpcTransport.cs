using System.Globalization;
using System.Net.Sockets;
using System.Text;
using Isola.Ttrpc.Native;

namespace Isola.Ttrpc.Transports;

/// <summary>
/// Opens the byte streams ttrpc runs on. Addresses, with or without a "ttrpc+" prefix:
/// <c>unix:///path</c> or a bare absolute path (AF_UNIX), <c>vsock://CID:PORT</c> (AF_VSOCK),
/// <c>hvsock:///path/to/uds:PORT</c> (hybrid vsock: "CONNECT PORT\n" on a Unix socket, answered by "OK ...").
/// </summary>
public static class TtrpcTransport
{
    /// <summary>Connects to <paramref name="address"/>. Throws <see cref="TtrpcStatusCode.Unavailable"/> naming the
    /// address when nothing answers, and <see cref="TtrpcStatusCode.InvalidArgument"/> when it is malformed.</summary>
    public static async Task<Stream> ConnectAsync(string address, CancellationToken cancellationToken = default)
    {
        var target = address.StartsWith("ttrpc+", StringComparison.OrdinalIgnoreCase) ? address[6..] : address;
        if (target.StartsWith('/'))
        {
            return await ConnectUnixAsync(target, cancellationToken).ConfigureAwait(false);
        }

        var sep = target.IndexOf("://", StringComparison.Ordinal);
        var scheme = sep > 0 ? target[..sep].ToLowerInvariant() : "";
        var rest = sep > 0 ? target[(sep + 3)..] : "";
        switch (scheme)
        {
            case "unix" when rest.Length > 0:
                return await ConnectUnixAsync(rest, cancellationToken).ConfigureAwait(false);
            case "vsock":
            {
                var (cid, port) = SplitPort(address, rest);
                if (!uint.TryParse(cid, NumberStyles.None, CultureInfo.InvariantCulture, out var cidValue))
                {
                    throw TtrpcException.InvalidArgument($"malformed vsock address '{address}': expected vsock://CID:PORT");
                }

                return await ConnectVsockAsync(cidValue, port, cancellationToken).ConfigureAwait(false);
            }

            case "hvsock":
            {
                var (path, port) = SplitPort(address, rest);
                return await ConnectHybridVsockAsync(path, port, cancellationToken).ConfigureAwait(false);
            }

            default:
                throw TtrpcException.InvalidArgument(
                    $"unsupported ttrpc address '{address}': expected unix://PATH, vsock://CID:PORT or hvsock://PATH:PORT");
        }
    }

    /// <summary>Connects an AF_UNIX stream socket to <paramref name="path"/>.</summary>
    public static async Task<Stream> ConnectUnixAsync(string path, CancellationToken cancellationToken = default)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), cancellationToken).ConfigureAwait(false);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch (SocketException e)
        {
            socket.Dispose();
            throw TtrpcException.Unavailable($"cannot connect to unix socket {path}: {e.Message}", e);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Connects an AF_VSOCK stream socket to (<paramref name="cid"/>, <paramref name="port"/>) through libc,
    /// since .NET's socket layer refuses the address family. Cancelling abandons the connect at once.</summary>
    public static async Task<Stream> ConnectVsockAsync(uint cid, uint port, CancellationToken cancellationToken = default)
    {
        var fd = await VsockConnect.ConnectAsync(cid, port, cancellationToken).ConfigureAwait(false);
        var socket = new Socket(new SafeSocketHandle(fd, ownsHandle: true));
        return new NetworkStream(socket, ownsSocket: true);
    }

    /// <summary>Connects to a hybrid vsock (Firecracker / Cloud Hypervisor): the Unix socket <paramref name="path"/>,
    /// then "CONNECT <paramref name="port"/>\n", expecting a line starting with "OK".</summary>
    public static async Task<Stream> ConnectHybridVsockAsync(string path, uint port, CancellationToken cancellationToken = default)
    {
        var stream = await ConnectUnixAsync(path, cancellationToken).ConfigureAwait(false);
        try
        {
            await stream.WriteAsync(Encoding.ASCII.GetBytes($"CONNECT {port.ToString(CultureInfo.InvariantCulture)}\n"), cancellationToken).ConfigureAwait(false);
            var line = await ReadLineAsync(stream, cancellationToken).ConfigureAwait(false);
            if (!line.StartsWith("OK", StringComparison.Ordinal))
            {
                throw TtrpcException.Unavailable($"hybrid vsock {path} refused CONNECT {port}: '{line}'");
            }

            return stream;
        }
        catch
        {
            await stream.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    // Byte by byte: nothing after the newline may be consumed, it already belongs to ttrpc.
    private static async Task<string> ReadLineAsync(Stream stream, CancellationToken cancellationToken)
    {
        var line = new StringBuilder();
        var one = new byte[1];
        while (line.Length < 256)
        {
            if (await stream.ReadAsync(one, cancellationToken).ConfigureAwait(false) == 0)
            {
                throw TtrpcException.Unavailable($"hybrid vsock closed before answering CONNECT (got '{line}')");
            }

            if (one[0] == '\n')
            {
                return line.ToString();
            }

            line.Append((char)one[0]);
        }

        throw TtrpcException.Unavailable($"hybrid vsock answered CONNECT with an over-long line '{line}'");
    }

    private static (string Head, uint Port) SplitPort(string address, string rest)
    {
        var colon = rest.LastIndexOf(':');
        if (colon <= 0 || !uint.TryParse(rest.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port))
        {
            throw TtrpcException.InvalidArgument($"malformed address '{address}': expected a ':PORT' suffix");
        }

        return (rest[..colon], port);
    }
}
