using System.Text.Json;
using System.Text.Json.Nodes;
using Isola.Controllers;
using Isola.Plugins.StratoVirt.Native;

namespace Isola.Plugins.StratoVirt.Controller;

/// <summary>How one container's rootfs reached the guest, saved in the sandbox record so Purge works after a restart.</summary>
/// <param name="Kind">"block" (hot-plugged) or "dir" (bind-mounted into the virtiofs share).</param>
/// <param name="DeviceId">The hot-plugged device id, for "block".</param>
internal sealed record PreparedContainer(string Kind, string? DeviceId);

/// <summary>
/// The host side of a container bundle in a VM sandbox. The bundle lives in the virtiofs share at
/// <c>&lt;shared&gt;/&lt;container id&gt;</c>, which the guest agent (Kuasar's vmm-task) sees at
/// <c>/run/kuasar/state/&lt;container id&gt;</c>. A directory rootfs is bind-mounted at <c>rootfs</c> inside it; a block
/// device is hot-plugged instead and the guest mounts it.
/// </summary>
internal static class ContainerRootfs
{
    /// <summary>Where the guest agent mounts the virtiofs share (tag "kuasar").</summary>
    public const string GuestSharedRoot = "/run/kuasar/state";

    public static string GuestBundle(string containerId) => GuestSharedRoot + "/" + containerId;

    /// <summary>True when <paramref name="rootfs"/> must be hot-plugged (a block device or a disk image file).</summary>
    public static bool IsBlock(string rootfs) => LibC.IsBlockDevice(rootfs) || File.Exists(rootfs);

    /// <summary>Writes config.json with root.path "rootfs" (relative to the bundle, where the guest finds it).</summary>
    public static void WriteConfig(string bundle, JsonObject spec, bool readOnlyRootfs)
    {
        var path = Path.Combine(bundle, "config.json");
        File.WriteAllText(path, GuestConfig(spec, readOnlyRootfs));
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }

    /// <summary>The config.json the guest runs: the host's spec, edited in place to root at the bundle's rootfs, and
    /// serialised.</summary>
    public static string GuestConfig(JsonObject spec, bool readOnlyRootfs)
    {
        OciSpecEdits.SetRoot(spec, "rootfs", readOnlyRootfs);
        return spec.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    /// <summary>Bind-mounts <paramref name="source"/> at <paramref name="target"/>, read-only when asked.</summary>
    public static void BindMount(SandboxId sandboxId, string source, string target, bool readOnly)
    {
        Directory.CreateDirectory(target);
        if (LibC.Mount(source, target, null, LibC.MS_BIND | LibC.MS_REC, 0) != 0)
        {
            throw IsolaException.Internal($"sandbox {sandboxId}: bind mount of {source} at {target} failed: {LibC.LastError()}");
        }

        if (readOnly && LibC.Mount("none", target, null, LibC.MS_BIND | LibC.MS_REC | LibC.MS_REMOUNT | LibC.MS_RDONLY, 0) != 0)
        {
            var error = LibC.LastError();
            LibC.Umount2(target, LibC.MNT_DETACH);
            throw IsolaException.Internal($"sandbox {sandboxId}: read-only remount of {target} failed: {error}");
        }
    }

    /// <summary>
    /// Makes <paramref name="directory"/> (the sandbox's state directory, which holds the share) a mount of its own in
    /// a shared peer group. The virtiofs daemon serves the share from a mount namespace of its own whose mounts are
    /// slaves of the host's: only mounts made later under a shared mount propagate into it, so without this a
    /// container's rootfs bind-mounted into the share after the VM started would look empty to the guest. The whole
    /// state directory, not only the share, so that the host's log files and their twins in the share stay on one
    /// mount (link(2) refuses to cross mounts).
    /// </summary>
    public static void MakeSharedMount(SandboxId sandboxId, string directory)
    {
        if (IsMountPoint(directory))
        {
            return;
        }

        if (LibC.Mount(directory, directory, null, LibC.MS_BIND, 0) != 0)
        {
            throw IsolaException.Internal($"sandbox {sandboxId}: bind mount of {directory} onto itself failed: {LibC.LastError()}");
        }

        if (LibC.Mount("none", directory, null, LibC.MS_SHARED, 0) != 0)
        {
            var error = LibC.LastError();
            LibC.Umount2(directory, LibC.MNT_DETACH);
            throw IsolaException.Internal($"sandbox {sandboxId}: cannot make {directory} a shared mount: {error}");
        }
    }

    /// <summary>Undoes <see cref="MakeSharedMount"/> (the bundles under it are unmounted first by their owners).</summary>
    public static void DropSharedMount(SandboxId sandboxId, string directory)
    {
        if (IsMountPoint(directory) && LibC.Umount2(directory, LibC.MNT_DETACH) != 0)
        {
            throw IsolaException.Internal($"sandbox {sandboxId}: cannot unmount {directory}: {LibC.LastError()}");
        }
    }

    /// <summary>Unmounts <paramref name="target"/> if it is a mount point, then removes the bundle without ever
    /// recursing into a mounted directory (that would delete the user's rootfs through the bind mount).</summary>
    public static void RemoveBundle(SandboxId sandboxId, string bundle)
    {
        if (IsSymbolicLink(bundle))
        {
            // The guest can write the share: a bundle it replaced by a link must not steer deletions on the host.
            File.Delete(bundle);
            return;
        }

        var rootfs = Path.Combine(bundle, "rootfs");
        if (IsMountPoint(rootfs) && LibC.Umount2(rootfs, LibC.MNT_DETACH) != 0)
        {
            throw IsolaException.Internal($"sandbox {sandboxId}: cannot unmount {rootfs}: {LibC.LastError()}");
        }

        if (IsMountPoint(rootfs))
        {
            throw IsolaException.Internal($"sandbox {sandboxId}: {rootfs} is still mounted; bundle left in place");
        }

        if (Directory.Exists(bundle))
        {
            // config.json and the output files' twins (the host keeps its own links to those). Entries are unlinked,
            // never followed; a twin bind-mounted over a host file is unmounted first.
            foreach (var file in Directory.GetFiles(bundle))
            {
                DetachFileMount(sandboxId, file);
                File.Delete(file);
            }
        }

        if (Directory.Exists(rootfs))
        {
            Directory.Delete(rootfs, recursive: false);
        }

        if (Directory.Exists(bundle))
        {
            Directory.Delete(bundle, recursive: false);
        }
    }

    /// <summary>True when <paramref name="path"/> itself (not what it points to) is a symbolic link.</summary>
    public static bool IsSymbolicLink(string path) =>
        (File.Exists(path) || Directory.Exists(path)) && File.GetAttributes(path).HasFlag(FileAttributes.ReparsePoint);

    /// <summary>Unmounts a file bind mount at <paramref name="path"/>, if there is one.</summary>
    public static void DetachFileMount(SandboxId sandboxId, string path)
    {
        if (IsMountPoint(path) && LibC.Umount2(path, LibC.MNT_DETACH) != 0)
        {
            throw IsolaException.Internal($"sandbox {sandboxId}: cannot unmount {path}: {LibC.LastError()}");
        }
    }

    /// <summary>True when <paramref name="path"/> is listed in /proc/self/mountinfo as a mount point.</summary>
    public static bool IsMountPoint(string path)
    {
        var full = Path.GetFullPath(path).TrimEnd('/');
        foreach (var line in File.ReadLines("/proc/self/mountinfo"))
        {
            var fields = line.Split(' ');
            if (fields.Length > 4 && Unescape(fields[4]) == full)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The filesystem type a guest should mount a hot-plugged rootfs with: ext2/3/4 are recognised by their
    /// superblock magic (0xEF53 at byte 1080); anything else is left to the guest ("auto").</summary>
    public static string ProbeFsType(string path)
    {
        try
        {
            using var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            var magic = new byte[2];
            f.Seek(1080, SeekOrigin.Begin);
            return f.Read(magic, 0, 2) == 2 && magic[0] == 0x53 && magic[1] == 0xEF ? "ext4" : "auto";
        }
        catch (IOException)
        {
            return "auto";
        }
    }

    private static string Unescape(string mountinfoPath) =>
        mountinfoPath.Replace("\\040", " ", StringComparison.Ordinal).Replace("\\011", "\t", StringComparison.Ordinal)
            .Replace("\\012", "\n", StringComparison.Ordinal).Replace("\\134", "\\", StringComparison.Ordinal);
}
