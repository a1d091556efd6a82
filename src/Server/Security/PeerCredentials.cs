using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Isola.Server.Security;

/// <summary>The process at the other end of a Unix socket, as the kernel recorded it at connect time.</summary>
internal static partial class PeerCredentials
{
    private const int SolSocket = 1;
    private const int SoPeerCred = 17;

    /// <summary>struct ucred, in the machine's own layout and byte order (the kernel copies it out as it is).</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal readonly struct Ucred
    {
        public readonly int Pid;
        public readonly uint Uid;
        public readonly uint Gid;
    }

    /// <summary>The peer's uid from SO_PEERCRED, or null if unknown. A socket without peer credentials reports uid
    /// (uid_t)-1; the pid cannot tell, since a peer outside this pid namespace is reported as pid 0.</summary>
    public static uint? PeerUid(Socket socket) => Peer(socket) is { Uid: not uint.MaxValue } peer ? peer.Uid : null;

    /// <summary>The peer's credentials from SO_PEERCRED, or null if the socket has none (not a connected Unix socket).</summary>
    internal static Ucred? Peer(Socket socket)
    {
        Span<byte> buffer = stackalloc byte[Marshal.SizeOf<Ucred>()];
        try
        {
            var length = socket.GetRawSocketOption(SolSocket, SoPeerCred, buffer);
            return length == buffer.Length ? MemoryMarshal.Read<Ucred>(buffer) : null;
        }
        catch (SocketException)
        {
            return null;
        }
    }

    /// <summary>This process's effective uid (the BCL has no API for it).</summary>
    public static uint EffectiveUid() => geteuid();

    [LibraryImport("libc", EntryPoint = "geteuid")]
    private static partial uint geteuid();
}
