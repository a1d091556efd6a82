namespace Isola;

/// <summary>A mount, in the OCI runtime-spec shape (also used for rootfs mounts handed to a task).</summary>
/// <param name="Type">Filesystem type, for example "bind", "proc", "tmpfs" or "overlay".</param>
/// <param name="Source">Host path or device; for pseudo filesystems, the filesystem name.</param>
/// <param name="Destination">Path inside the container; empty for a rootfs mount.</param>
/// <param name="Options">Mount options, for example "rbind", "ro".</param>
public sealed record Mount(string Type, string Source, string Destination, IReadOnlyList<string> Options)
{
    /// <summary>A read-write bind mount of <paramref name="source"/> at <paramref name="destination"/>.</summary>
    public static Mount Bind(string source, string destination, bool readOnly = false) =>
        new("bind", source, destination, readOnly ? ["rbind", "ro"] : ["rbind", "rw"]);
}
