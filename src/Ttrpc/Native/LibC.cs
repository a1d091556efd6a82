using System.Runtime.InteropServices;

namespace Isola.Ttrpc.Native;

/// <summary>The few libc calls .NET has no managed API for: AF_VSOCK sockets (the socket layer rejects unknown
/// address families, dotnet/runtime#58327), so they are created and connected here, without blocking so that a
/// cancelled connect is abandoned at once; the file type of a path (.NET exposes no way to tell a socket file from a
/// regular one).</summary>
internal static unsafe partial class LibC
{
    public const int AF_VSOCK = 40;
    public const int SOCK_STREAM = 1;
    public const int SOCK_CLOEXEC = 0x80000;
    public const int SOCK_NONBLOCK = 0x800;
    public const int O_NONBLOCK = 0x800;
    public const int EFD_CLOEXEC = 0x80000;
    public const int F_GETFL = 3;
    public const int F_SETFL = 4;
    public const int SOL_SOCKET = 1;
    public const int SO_ERROR = 4;
    public const short POLLIN = 0x1;
    public const short POLLOUT = 0x4;
    public const int EINTR = 4;
    public const int EINPROGRESS = 115;

    [StructLayout(LayoutKind.Sequential)]
    public struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

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

    [LibraryImport("libc", SetLastError = true)]
    public static partial int poll(PollFd* fds, nuint count, int timeoutMs);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int eventfd(uint initial, int flags);

    [LibraryImport("libc", SetLastError = true)]
    public static partial nint write(int fd, void* buffer, nuint count);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int fcntl(int fd, int command, int argument);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int getsockopt(int fd, int level, int name, int* value, uint* length);

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
