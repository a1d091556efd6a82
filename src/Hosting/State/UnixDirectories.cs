using System.Runtime.InteropServices;

namespace Isola.Hosting.State;

/// <summary>Owner-only directories, directory fsync and hard links, which the BCL does not expose.</summary>
internal static partial class UnixDirectories
{
    /// <summary>rwx for the owner only.</summary>
    public const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    /// <summary>Creates <paramref name="path"/> (and missing parents) with mode 0700. An existing directory keeps its
    /// mode: the host never loosens or rewrites permissions of a directory it did not create (think Root=/tmp).</summary>
    public static void CreateOwnerOnly(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            throw new PlatformNotSupportedException("Isola runs on Linux");
        }

        Directory.CreateDirectory(path, OwnerOnly);
    }

    /// <summary>True when group or others may enter or list <paramref name="path"/>.</summary>
    public static bool IsShared(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            throw new PlatformNotSupportedException("Isola runs on Linux");
        }

        return (File.GetUnixFileMode(path) & (UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute)) != 0;
    }

    /// <summary>Flushes a directory's entries so a rename inside it survives a power loss. A rename is atomic without
    /// this, but only durable with it; FileStream cannot open a directory, hence open(2)/fsync(2).</summary>
    public static void Fsync(string directory)
    {
        var fd = Open(directory, ORdOnly | OCloexec);
        if (fd < 0)
        {
            return; // Durability is best effort; atomicity does not depend on it.
        }

        try
        {
            _ = FsyncFd(fd);
        }
        finally
        {
            _ = Close(fd);
        }
    }

    /// <summary>link(2): a second name for <paramref name="existing"/>'s file; false when it failed (for example
    /// because <paramref name="existing"/> is gone). The BCL has symbolic links only.</summary>
    public static bool HardLink(string existing, string newPath) => Link(existing, newPath) == 0;

    private const int ORdOnly = 0;
    private const int OCloexec = 0x80000;

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int FsyncFd(int fd);

    [LibraryImport("libc", EntryPoint = "link", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Link(string existing, string newPath);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);
}
