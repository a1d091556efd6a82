using System.Buffers.Binary;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Isola.Server.Security;

/// <summary>The uid of the process at the other end of a Unix socket, as the kernel recorded it at connect time.</summary>
internal static partial class PeerCredentials
{
    private const int SolSocket = 1;
    private const int SoPeerCred = 17;

    /// <summary>The peer's uid from SO_PEERCRED (struct ucred { pid_t pid; uid_t uid; gid_t gid; }), or null if unknown.</summary>
    public static uint? PeerUid(Socket socket)
    {
        Span<byte> ucred = stackalloc byte[12];
        try
        {
            var length = socket.GetRawSocketOption(SolSocket, SoPeerCred, ucred);
            return length >= 8 ? BinaryPrimitives.ReadUInt32LittleEndian(ucred[4..8]) : null;
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
