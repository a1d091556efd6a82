using System.Globalization;
using Isola.Images.Store;

namespace Isola.Hosting.Containers;

/// <summary>
/// What a container of an image runs when its spec leaves a setting empty, as <c>docker run</c> and CRI do: the
/// image's Entrypoint followed by the spec's Args (or the image's Cmd when there are none), the image's Env with the
/// spec's entries overriding by name, its WorkingDir, and its User (numeric, or a name looked up in the image's own
/// <c>/etc/passwd</c> and <c>/etc/group</c>).
/// </summary>
internal static class ImageDefaults
{
    public static ContainerSpec Apply(ContainerSpec spec, ImageInfo image, string rootfs, ContainerId id)
    {
        var defaults = image.Defaults;
        var entrypoint = spec.Entrypoint ?? defaults.Entrypoint;
        var cmd = spec.Args.Count > 0 ? spec.Args : spec.Entrypoint is not null ? [] : defaults.Cmd;
        IReadOnlyList<string> args = [.. entrypoint, .. cmd];
        if (args.Count == 0)
        {
            throw IsolaException.InvalidArgument($"container '{id}': image {image.Reference} has no Entrypoint or Cmd; give the command to run");
        }

        var env = new List<string>(defaults.Env);
        foreach (var entry in spec.Env)
        {
            var name = entry.Split('=', 2)[0];
            env.RemoveAll(e => e.Split('=', 2)[0] == name);
            env.Add(entry);
        }

        var (uid, gid) = spec.Uid == 0 && spec.Gid == 0 && defaults.User.Length > 0 ? User(defaults.User, rootfs, image, id) : (spec.Uid, spec.Gid);
        return spec with
        {
            Rootfs = rootfs,
            Args = args,
            Env = env,
            Cwd = spec.Cwd ?? (defaults.WorkingDir.Length > 0 ? defaults.WorkingDir : null),
            Uid = uid,
            Gid = gid,
        };
    }

    private static (uint Uid, uint Gid) User(string user, string rootfs, ImageInfo image, ContainerId id)
    {
        var parts = user.Split(':', 2);
        var uid = Lookup(parts[0], Path.Combine(rootfs, "etc", "passwd"), 2, image, id, "user");
        var gid = parts.Length == 2 ? Lookup(parts[1], Path.Combine(rootfs, "etc", "group"), 2, image, id, "group")
            : PrimaryGroup(uid, Path.Combine(rootfs, "etc", "passwd"));
        return (uid, gid);
    }

    private static uint Lookup(string nameOrId, string file, int idField, ImageInfo image, ContainerId id, string what)
    {
        if (uint.TryParse(nameOrId, NumberStyles.None, CultureInfo.InvariantCulture, out var numeric))
        {
            return numeric;
        }

        foreach (var fields in Entries(file))
        {
            if (fields.Length > idField && fields[0] == nameOrId && uint.TryParse(fields[idField], NumberStyles.None, CultureInfo.InvariantCulture, out var found))
            {
                return found;
            }
        }

        throw IsolaException.InvalidArgument($"container '{id}': image {image.Reference} runs as {what} '{nameOrId}', which its {file[file.LastIndexOf('/')..]} does not name");
    }

    private static uint PrimaryGroup(uint uid, string passwd) =>
        Entries(passwd).FirstOrDefault(f => f.Length > 3 && f[2] == uid.ToString(CultureInfo.InvariantCulture)) is { } entry
            && uint.TryParse(entry[3], NumberStyles.None, CultureInfo.InvariantCulture, out var gid) ? gid : 0;

    /// <summary>The lines of an account file in the rootfs; a link is not followed (it could point at the host's own).</summary>
    private static IEnumerable<string[]> Entries(string file) =>
        File.Exists(file) && new FileInfo(file).LinkTarget is null ? File.ReadLines(file).Select(l => l.Split(':')) : [];
}
