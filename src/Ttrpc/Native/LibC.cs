using System.Runtime.InteropServices;

namespace Isola.Ttrpc.Native;

/// <summary>The few libc calls .NET has no managed API for: AF_VSOCK sockets (the socket layer rejects unknown
/// address families, dotnet/runtime#58327), so they are created and connected here; the file type of a path
/// (.NET exposes no way to tell a socket file from a regular one).</summary>
internal static unsafe partial class LibC
{
    public const int AF_VSOCK = 40;
    public const int SOCK_STREAM = 1;
    public const int SOCK_CLOEXEC = 0x80000;

    [StructLayout(LayoutKind.Sequential)]
    public struct SockaddrVm
    {
        public ushort Family;
        public ushort Reserved1;
        public uint Port;
        public uint Cid;
        public uint Zero;
    }

    [LibraryImport("libc", SetLastError = true)]
    public static partial int socket(int domain, int type, int protocol);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int connect(int fd, SockaddrVm* address, uint length);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int close(int fd);

    [LibraryImport("libc")]
    public static partial uint geteuid();

    private const int AtFdCwd = -100;
    private const int AtSymlinkNoFollow = 0x100;
    private const uint StatxType = 0x1;
    private const int StatxModeOffset = 28; // struct statx: stx_mask, stx_blksize, stx_attributes(8), stx_nlink, stx_uid, stx_gid, stx_mode
    private const ushort FileTypeMask = 0xF000;
    private const ushort SocketType = 0xC000;

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int statx(int dirfd, string path, int flags, uint mask, byte* buffer);

    /// <summary>True when <paramref name="path"/> (not followed if a symlink) is a Unix socket; null when it does not exist.</summary>
    public static bool? IsSocket(string path)
    {
        // statx's layout is the same on every architecture, unlike struct stat.
        var buffer = stackalloc byte[256];
        if (statx(AtFdCwd, path, AtSymlinkNoFollow, StatxType, buffer) != 0)
        {
            return Marshal.GetLastPInvokeError() == 2 ? null : false; // ENOENT
        }

        return (*(ushort*)(buffer + StatxModeOffset) & FileTypeMask) == SocketType;
    }

    /// <summary>The text of an errno value.</summary>
    public static string ErrorText(int errno) => Marshal.GetPInvokeErrorMessage(errno);
}
