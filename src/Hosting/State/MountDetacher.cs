using System.Runtime.InteropServices;

namespace Isola.Hosting.State;

/// <summary>
/// Lazily unmounts whatever a controller left mounted at or under a sandbox's directory (the vm controller makes the
/// directory a mount of its own, and bind-mounts rootfs and output files in it), deepest first. The host calls it
/// before it moves or deletes that directory: a mount point cannot be renamed, and a recursive delete would walk into
/// a mounted rootfs.
/// </summary>
internal static partial class MountDetacher
{
    private const int MNT_DETACH = 2;

    /// <summary>Detaches every mount at or under <paramref name="directory"/>; returns how many.</summary>
    public static int DetachUnder(string directory)
    {
        var root = Path.GetFullPath(directory).TrimEnd('/');
        var mountPoints = File.ReadLines("/proc/self/mountinfo")
            .Select(line => line.Split(' '))
            .Where(fields => fields.Length > 4)
            .Select(fields => Unescape(fields[4]))
            .Where(point => point == root || point.StartsWith(root + "/", StringComparison.Ordinal))
            .Distinct(StringComparer.Ordinal)
            .OrderByDescending(point => point.Length)
            .ToList();
        foreach (var point in mountPoints)
        {
            // Whatever fails here surfaces as the move's or delete's own error, which names the directory.
            _ = Umount2(point, MNT_DETACH);
        }

        return mountPoints.Count;
    }

    private static string Unescape(string path) =>
        path.Replace("\\040", " ", StringComparison.Ordinal).Replace("\\011", "\t", StringComparison.Ordinal)
            .Replace("\\012", "\n", StringComparison.Ordinal).Replace("\\134", "\\", StringComparison.Ordinal);

    [LibraryImport("libc", EntryPoint = "umount2", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Umount2(string target, int flags);
}
