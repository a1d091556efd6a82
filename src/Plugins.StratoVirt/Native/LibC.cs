using System.Runtime.InteropServices;

namespace Isola.Plugins.StratoVirt.Native;

/// <summary>The few Linux calls the BCL lacks: pidfd (watching a process that is not our child), poll, eventfd,
/// kill, the vhost-vsock CID ioctl and bind mounts. Hand-written because the packaged wrappers (Tmds.LibC) are
/// unmaintained, and a dozen imports do not justify a dependency.</summary>
internal static partial class LibC
{
    public const int EINTR = 4;
    public const int ESRCH = 3;
    public const int ENOSYS = 38;
    public const int EADDRINUSE = 98;
    public const short POLLIN = 0x1;
    public const int SIGKILL = 9;
    public const int O_RDWR = 0x2;
    public const int O_CLOEXEC = 0x80000;
    public const int F_SETFD = 2;
    public const ulong MS_BIND = 0x1000;
    public const ulong MS_REC = 0x4000;
    public const ulong MS_RDONLY = 0x1;
    public const ulong MS_REMOUNT = 0x20;
    public const int MNT_DETACH = 0x2;
    public const ulong MS_SHARED = 0x100000;

    private const long SysPidfdOpen = 434;

    [StructLayout(LayoutKind.Sequential)]
    public struct PollFd
    {
        public int Fd;
        public short Events;
        public short REvents;
    }

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial long SysCall(long number, int pid, uint flags);

    /// <summary>pidfd_open(2): a descriptor that becomes readable when the process exits, for any process.</summary>
    public static int PidfdOpen(int pid) => (int)SysCall(SysPidfdOpen, pid, 0);

    [LibraryImport("libc", EntryPoint = "poll", SetLastError = true)]
    public static unsafe partial int Poll(PollFd* fds, nuint count, int timeoutMs);

    [LibraryImport("libc", EntryPoint = "eventfd", SetLastError = true)]
    public static partial int EventFd(uint initval, int flags);

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    public static unsafe partial nint Write(int fd, void* buf, nuint count);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    public static partial int Kill(int pid, int signal);

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    public static unsafe partial int Ioctl(int fd, ulong request, ulong* arg);

    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    public static partial int Fcntl(int fd, int cmd, int arg);

    [LibraryImport("libc", EntryPoint = "link", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Link(string existing, string newPath);

    [LibraryImport("libc", EntryPoint = "mount", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Mount(string source, string target, string? fstype, ulong flags, nint data);

    [LibraryImport("libc", EntryPoint = "umount2", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Umount2(string target, int flags);

    [LibraryImport("libc", EntryPoint = "stat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int Stat(string path, byte* buf);

    /// <summary>True when <paramref name="path"/> is a regular file (S_IFREG), following symlinks.</summary>
    public static unsafe bool IsRegularFile(string path) => FileType(path) == 0x8000;

    /// <summary>True when <paramref name="path"/> is a block device (S_IFBLK), following symlinks.</summary>
    public static bool IsBlockDevice(string path) => FileType(path) == 0x6000;

    private static unsafe uint FileType(string path)
    {
        // struct stat: st_mode sits at offset 24 on x86_64 and 16 on arm64; the struct is 144 (x64) or 128 bytes.
        var modeOffset = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 24 : 16;
        var buf = stackalloc byte[256];
        if (Stat(path, buf) != 0)
        {
            return 0;
        }

        return *(uint*)(buf + modeOffset) & 0xF000;
    }

    /// <summary>The errno of the last failed call, as text for error messages.</summary>
    public static string LastError() => Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError());
}
