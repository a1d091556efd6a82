using System.Net.Sockets;
using Isola.Server.Security;

namespace Isola.Server.Tests;

/// <summary>SO_PEERCRED read as the kernel writes it: struct ucred in native layout and byte order.</summary>
public sealed class PeerCredentialsTests
{
    [Fact]
    public async Task The_peer_of_a_real_connection_is_this_process_and_its_uid()
    {
        var dir = Directory.CreateTempSubdirectory("isola-peercred-");
        try
        {
            var path = Path.Combine(dir.FullName, "s.sock");
            using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            listener.Bind(new UnixDomainSocketEndPoint(path));
            listener.Listen(1);
            using var client = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            await client.ConnectAsync(new UnixDomainSocketEndPoint(path));
            using var accepted = await listener.AcceptAsync();

            var peer = PeerCredentials.Peer(accepted);

            // Every field checked: a wrong offset or byte order gives a wrong pid or uid.
            Assert.NotNull(peer);
            Assert.Equal(Environment.ProcessId, peer.Value.Pid);
            Assert.Equal(PeerCredentials.EffectiveUid(), peer.Value.Uid);
            Assert.Equal(PeerCredentials.EffectiveUid(), PeerCredentials.PeerUid(accepted));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public void A_socket_without_a_peer_has_no_credentials()
    {
        using var unconnected = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);

        Assert.Null(PeerCredentials.PeerUid(unconnected));
    }
}
