using System.Runtime.InteropServices;

namespace Isola.Scripting;

/// <summary>
/// Directories only their owner may write: the script cache holds code that runs as the user, so whoever can write it
/// can run code as them. The BCL exposes a file's mode but not its owner, hence statx(2) and geteuid(2).
/// </summary>
internal static partial class PrivateDirectory
{
    /// <summary>rwx for the owner only.</summary>
    public const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    /// <summary>Creates <paramref name="path"/> (and missing parents) with mode 0700, and narrows an existing one to 0700.</summary>
    public static void Create(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(path);
            return;
        }

        Directory.CreateDirectory(path, OwnerOnly);
        if ((File.GetUnixFileMode(path) & ~OwnerOnly) != 0)
        {
            File.SetUnixFileMode(path, OwnerOnly);
        }
    }

    /// <summary>Why <paramref name="path"/> cannot be trusted with code that runs as this user (owned by someone else,
    /// or writable by group or others); null when it can, or when it does not exist yet (it will be created 0700).</summary>
    /// <exception cref="IOException">It cannot be examined.</exception>
    public static string? WhyUntrusted(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            return null;
        }

        var euid = GetEuid();
        return OwnerAndMode(path) switch
        {
            null => null,
            var (uid, _) when uid != euid => $"it is owned by uid {uid}, not by this user (uid {euid})",
            var (_, mode) when (mode & (UnixFileMode.GroupWrite | UnixFileMode.OtherWrite)) != 0 =>
                $"it is writable by group or others (mode {Convert.ToString((int)mode, 8)})",
            _ => null,
        };
    }

    /// <summary>The owner's uid and the permission bits of <paramref name="path"/> (following symlinks); null when it
    /// does not exist.</summary>
    private static unsafe (uint Uid, UnixFileMode Mode)? OwnerAndMode(string path)
    {
        var buffer = stackalloc byte[StatxSize];
        if (Statx(AtFdCwd, path, 0, StatxUid | StatxMode, buffer) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            return errno is 2 or 20 // ENOENT, ENOTDIR
                ? null
                : throw new IOException($"cannot examine '{path}': {Marshal.GetPInvokeErrorMessage(errno)}");
        }

        // struct statx has one layout on every architecture: stx_uid is the u32 at 20, stx_mode the u16 at 28.
        return (*(uint*)(buffer + 20), (UnixFileMode)(*(ushort*)(buffer + 28) & 0xFFF));
    }

    private const int AtFdCwd = -100;
    private const uint StatxMode = 0x2;
    private const uint StatxUid = 0x8;
    private const int StatxSize = 256;

    [LibraryImport("libc", EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static unsafe partial int Statx(int dirfd, string path, int flags, uint mask, byte* buffer);

    [LibraryImport("libc", EntryPoint = "geteuid")]
    private static partial uint GetEuid();
}
