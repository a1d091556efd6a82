using System.Runtime.InteropServices;

namespace Isola.Images.Rootfs;

/// <summary>
/// A container's root filesystem from an image: an overlay mount of the image's unpacked layers (read-only, shared by
/// every container of the image) under the container's own upper and work directories, all in one directory the
/// container owns: <c>rootfs/</c> (the mount), <c>upper/</c>, <c>work/</c>.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
internal static partial class OverlayRootfs
{
    private const int MNT_DETACH = 2;

    /// <summary>The kernel takes mount options up to a page.</summary>
    private const int MaxOptions = 4000;

    public static string Mount(string directory, IReadOnlyList<string> layersLowestFirst)
    {
        var rootfs = Path.Combine(directory, "rootfs");
        var upper = Path.Combine(directory, "upper");
        var work = Path.Combine(directory, "work");
        foreach (var dir in new[] { rootfs, upper, work })
        {
            Directory.CreateDirectory(dir);
        }

        if (IsMounted(rootfs))
        {
            return rootfs;
        }

        // overlayfs lists lower layers highest first.
        var options = $"lowerdir={string.Join(':', layersLowestFirst.Reverse())},upperdir={upper},workdir={work}";
        if (options.Length > MaxOptions)
        {
            throw IsolaException.InvalidArgument($"rootfs in {directory}: the image has {layersLowestFirst.Count} layers, more than one overlay mount's options can name ({options.Length} characters)");
        }

        if (MountSyscall("overlay", rootfs, "overlay", 0, options) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            throw IsolaException.Internal($"rootfs in {directory}: overlay mount failed: {Marshal.GetPInvokeErrorMessage(errno)}");
        }

        return rootfs;
    }

    /// <summary>Unmounts and deletes what <see cref="Mount"/> made; a directory never mounted or already gone is fine.</summary>
    public static void Unmount(string directory)
    {
        var rootfs = Path.Combine(directory, "rootfs");
        if (IsMounted(rootfs) && Umount2(rootfs, MNT_DETACH) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            throw IsolaException.Internal($"rootfs {rootfs}: unmount failed: {Marshal.GetPInvokeErrorMessage(errno)}");
        }

        foreach (var dir in new[] { "rootfs", "upper", "work" }.Select(d => Path.Combine(directory, d)))
        {
            if (Directory.Exists(dir))
            {
                Directory.Delete(dir, recursive: true);
            }
        }
    }

    public static bool IsMounted(string path)
    {
        var full = Path.GetFullPath(path).TrimEnd('/');
        return File.ReadLines("/proc/self/mountinfo").Select(l => l.Split(' ')).Any(f => f.Length > 4 && f[4] == full);
    }

    [LibraryImport("libc", EntryPoint = "mount", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int MountSyscall(string source, string target, string type, ulong flags, string data);

    [LibraryImport("libc", EntryPoint = "umount2", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Umount2(string target, int flags);
}
