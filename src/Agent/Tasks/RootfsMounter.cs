using Isola.Agent.Native;
using ProtoMount = Isola.TaskApi.Protos.Types.Mount;

namespace Isola.Agent.Tasks;

/// <summary>Mounts a Create request's rootfs mounts at BUNDLE/rootfs, in order, and unmounts them in reverse.</summary>
internal sealed class RootfsMounter
{
    private readonly BlockDeviceResolver _devices;

    public RootfsMounter(BlockDeviceResolver devices)
    {
        _devices = devices;
    }

    /// <summary>Mounts each of <paramref name="mounts"/> on <paramref name="target"/>; returns what to unmount. On failure,
    /// what was mounted is unmounted again.</summary>
    public async Task<IReadOnlyList<string>> MountAsync(IReadOnlyList<ProtoMount> mounts, string target, string owner, CancellationToken cancellationToken)
    {
        var mounted = new List<string>();
        try
        {
            foreach (var mount in mounts)
            {
                var source = mount.Source;
                if (!source.StartsWith('/') && BlockDeviceResolver.IsPciAddress(source))
                {
                    source = await _devices.ResolveAsync(source, owner, cancellationToken).ConfigureAwait(false);
                }

                var (flags, data) = MountFlags.Parse(mount.Options);
                var type = mount.Type is "" or "bind" or "rbind" ? null : mount.Type;
                if (mount.Type is "bind" or "rbind")
                {
                    flags |= MountFlags.Bind | (mount.Type == "rbind" ? MountFlags.Recursive : 0);
                }

                Mount(source, target, type, flags, data, owner);
                mounted.Add(target);
                // A bind mount ignores MS_RDONLY on the first call: read-only takes a remount.
                if ((flags & MountFlags.Bind) != 0 && (flags & MountFlags.ReadOnly) != 0)
                {
                    Mount(null, target, null, flags | MountFlags.Remount, null, owner);
                }
            }

            return mounted;
        }
        catch
        {
            Unmount(mounted);
            throw;
        }
    }

    /// <summary>
    /// True when the rootfs mounts name host directories the guest cannot see while the bundle's rootfs is already
    /// there: the sandbox's controller staged it in the shared directory (an engine behind `isola serve` sends the
    /// mounts of its own host, as containerd does to Kuasar's agent). Mounting them would fail; the staged one is used.
    /// </summary>
    public static bool StagedByHost(IEnumerable<ProtoMount> mounts, string rootfs) =>
        mounts.All(m => m.Type is "bind" or "rbind" && m.Source.StartsWith('/') && !Path.Exists(m.Source))
        && Directory.Exists(rootfs) && Directory.EnumerateFileSystemEntries(rootfs).Any();

    /// <summary>Unmounts in reverse order; lazily, so a process still holding a file cannot keep the mount (and the
    /// block device) busy forever.</summary>
    public static void Unmount(IReadOnlyList<string> mounted)
    {
        for (var i = mounted.Count - 1; i >= 0; i--)
        {
            LibC.umount2(mounted[i], MountFlags.MNT_DETACH);
        }
    }

    private static void Mount(string? source, string target, string? type, ulong flags, string? data, string owner)
    {
        if (LibC.mount(source, target, type, flags, data) != 0)
        {
            throw IsolaException.InvalidArgument($"{owner}: cannot mount {source ?? "(remount)"} ({type ?? "bind"}) on {target}: {LibC.LastError()}");
        }
    }
}
