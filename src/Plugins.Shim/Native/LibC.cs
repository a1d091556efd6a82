using System.Runtime.InteropServices;

namespace Isola.Plugins.Shim.Native;

/// <summary>libc calls with no managed equivalent: FIFOs (the shim's log), non-blocking reads on them, signals to
/// processes this host did not start (a shim or pause left by an earlier host), and flock(2) on a directory (the events
/// endpoint's lock: .NET locks only files, and only without waiting).</summary>
internal static partial class LibC
{
    public const int O_RDONLY = 0x0;
    public const int O_RDWR = 0x2;
    public const int O_NONBLOCK = 0x800;
    public const int O_CLOEXEC = 0x80000;
    public const int EAGAIN = 11;
    public const int EEXIST = 17;
    public const int ESRCH = 3;
    public const int EINTR = 4;
    public const int EWOULDBLOCK = 11;
    public const int LOCK_SH = 1;
    public const int LOCK_EX = 2;
    public const int LOCK_NB = 4;

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int mkfifo(string path, uint mode);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int open(string path, int flags, uint mode);

    [LibraryImport("libc", SetLastError = true)]
    public static unsafe partial nint read(int fd, byte* buffer, nint count);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int close(int fd);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int kill(int pid, int signal);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int flock(int fd, int operation);

    [LibraryImport("libc")]
    public static partial uint geteuid();

    [LibraryImport("libc", SetLastError = true)]
    private static partial int socket(int domain, int type, int protocol);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial int bind(int fd, byte* address, uint length);

    /// <summary>Creates a Unix socket file at <paramref name="path"/> that nobody listens on (connecting to it fails at
    /// once with ECONNREFUSED); 0, or the errno (EADDRINUSE when anything is at the path already). Not through
    /// System.Net.Sockets: a .NET socket unlinks the file it bound when it is closed.</summary>
    public static unsafe int BindUnixSocketFile(string path)
    {
        const int AfUnix = 1, SockStream = 1, SockCloexec = 0x80000, SunPathLength = 108;
        var name = System.Text.Encoding.UTF8.GetBytes(path);
        if (name.Length >= SunPathLength)
        {
            return 36; // ENAMETOOLONG
        }

        var fd = socket(AfUnix, SockStream | SockCloexec, 0);
        if (fd < 0)
        {
            return Marshal.GetLastPInvokeError();
        }

        // struct sockaddr_un { sa_family_t sun_family; char sun_path[108]; }
        var address = stackalloc byte[2 + SunPathLength];
        new Span<byte>(address, 2 + SunPathLength).Clear();
        *(ushort*)address = AfUnix;
        name.CopyTo(new Span<byte>(address + 2, SunPathLength));
        var result = bind(fd, address, (uint)(2 + name.Length + 1)) == 0 ? 0 : Marshal.GetLastPInvokeError();
        close(fd);
        return result;
    }

    public static string LastError() => Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError());
}
