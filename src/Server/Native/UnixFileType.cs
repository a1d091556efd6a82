using System.Runtime.InteropServices;

namespace Isola.Server.Native;

/// <summary>What a path names, not following a final symlink.</summary>
internal enum UnixFileKind
{
    Missing,
    Socket,
    Directory,
    Symlink,
    /// <summary>A regular file, a FIFO, a device.</summary>
    Other,
}

/// <summary>The file type of a path. The BCL cannot tell a socket file from an empty regular file (both are
/// "Normal" with length 0), and <c>isola serve</c> must only ever unlink the former.</summary>
internal static unsafe partial class UnixFileType
{
    private const int AtFdCwd = -100;
    private const int AtSymlinkNoFollow = 0x100;
    private const uint StatxType = 0x1;
    // struct statx is the same on every architecture (unlike struct stat): stx_mode is the u16 at offset 28.
    private const int StatxModeOffset = 28;
    private const int StatxSize = 256;
    private const int ENoEnt = 2;
    private const int ENotDir = 20;

    /// <summary>The kind of <paramref name="path"/>; throws <see cref="IOException"/> naming it when it cannot be
    /// examined (permission denied on a parent, say).</summary>
    public static UnixFileKind Of(string path)
    {
        var buffer = stackalloc byte[StatxSize];
        if (statx(AtFdCwd, path, AtSymlinkNoFollow, StatxType, buffer) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            return errno is ENoEnt or ENotDir
                ? UnixFileKind.Missing
                : throw new IOException($"cannot examine '{path}': {Marshal.GetPInvokeErrorMessage(errno)}");
        }

        return (*(ushort*)(buffer + StatxModeOffset) & 0xF000) switch
        {
            0xC000 => UnixFileKind.Socket,
            0x4000 => UnixFileKind.Directory,
            0xA000 => UnixFileKind.Symlink,
            _ => UnixFileKind.Other,
        };
    }

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int statx(int dirfd, string path, int flags, uint mask, byte* buffer);
}
