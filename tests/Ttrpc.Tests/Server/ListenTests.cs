using System.Net.Sockets;
using Isola.Ttrpc.Server;

namespace Isola.Ttrpc.Tests.Server;

/// <summary>What <see cref="TtrpcServer.ListenUnix"/> may replace at its path, and what it must leave alone.</summary>
public sealed class ListenTests : IDisposable
{
    private readonly TestSocket _socket = new();

    public void Dispose() => _socket.Dispose();

    [Fact]
    public async Task A_path_that_is_not_a_socket_is_refused_and_left_in_place()
    {
        await File.WriteAllTextAsync(_socket.Path, "precious");
        await using var server = new TtrpcServer();

        var e = Assert.Throws<TtrpcException>(() => server.ListenUnix(_socket.Path));

        Assert.Equal(TtrpcStatusCode.AlreadyExists, e.Code);
        Assert.Contains(_socket.Path, e.Message);
        Assert.Contains("not a socket", e.Message);
        Assert.Equal("precious", await File.ReadAllTextAsync(_socket.Path));
    }

    [Fact]
    public async Task A_socket_another_server_listens_on_is_refused_and_keeps_serving()
    {
        await using var first = new TtrpcServer();
        first.ListenUnix(_socket.Path);
        await using var second = new TtrpcServer();

        var e = Assert.Throws<TtrpcException>(() => second.ListenUnix(_socket.Path));

        Assert.Equal(TtrpcStatusCode.AlreadyExists, e.Code);
        Assert.Contains("another server is listening", e.Message);
        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await probe.ConnectAsync(new UnixDomainSocketEndPoint(_socket.Path)); // the first server's socket is intact
    }

    [Fact]
    public async Task A_stale_socket_file_is_replaced()
    {
        using (var stale = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            stale.Bind(new UnixDomainSocketEndPoint(_socket.Path)); // bound, never listening: nobody answers
        }

        await using var server = new TtrpcServer();
        server.ListenUnix(_socket.Path);

        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await probe.ConnectAsync(new UnixDomainSocketEndPoint(_socket.Path));
    }
}
