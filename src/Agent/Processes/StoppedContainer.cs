using System.Text.Json;

namespace Isola.Agent.Processes;

/// <summary>
/// Deletes a stopped container the way `runc delete` does, without running runc. Under TCG a runc process costs about
/// 0.3 s, which is most of a short container's Delete, and the host deletes every exited task (as containerd's CRI
/// does) before Wait returns. runc 1.1's delete of a stopped container whose init had a PID namespace of its own (so
/// the kernel killed every other process of it when the init died) is: remove its cgroup, remove its state directory,
/// run the poststop hooks. This does the first two, and only when nothing else applies, read from runc's own state
/// file: a new PID namespace, one cgroup v2 path under the cgroup root, no poststop hooks, no Intel RDT, no systemd
/// cgroup driver, not rootless. On anything else, or anything unexpected, it returns false and the caller runs
/// `runc delete`, which also retries a cgroup that is still busy.
/// </summary>
internal static class StoppedContainer
{
    /// <summary>Removes the cgroup and runc state of stopped container <paramref name="id"/> under runc's
    /// <paramref name="root"/>; false (having removed at most empty cgroups) when `runc delete` must do it.</summary>
    /// <param name="cgroupRoot">Where cgroup2 is mounted; tests point it elsewhere.</param>
    public static bool TryDestroy(string root, string id, string cgroupRoot = "/sys/fs/cgroup")
    {
        var dir = Path.Combine(root, id);
        string cgroup;
        try
        {
            using var state = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(dir, "state.json")));
            if (!Eligible(state.RootElement, cgroupRoot, out cgroup))
            {
                return false;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException or InvalidOperationException)
        {
            return false;
        }

        if (!RemoveCgroup(cgroup))
        {
            return false;
        }

        try
        {
            Directory.Delete(dir, recursive: true);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>True when runc's delete would do nothing but remove <paramref name="cgroup"/> and the state directory.</summary>
    internal static bool Eligible(JsonElement state, string cgroupRoot, out string cgroup)
    {
        cgroup = "";
        if (!state.TryGetProperty("config", out var config) || config.ValueKind != JsonValueKind.Object
            || IsTrue(state, "rootless") || IsTrue(config, "rootless_euid") || IsTrue(config, "rootless_cgroups")
            || !IsNullOrMissing(config, "intel_rdt"))
        {
            return false;
        }

        // Without a PID namespace of its own, processes of the container may outlive its init: runc kills them first.
        if (!config.TryGetProperty("namespaces", out var namespaces) || namespaces.ValueKind != JsonValueKind.Array
            || !namespaces.EnumerateArray().Any(n => n.ValueKind == JsonValueKind.Object && Text(n, "type") == "NEWPID" && Text(n, "path") is null or ""))
        {
            return false;
        }

        if (config.TryGetProperty("Hooks", out var hooks) && hooks.ValueKind != JsonValueKind.Null
            && (hooks.ValueKind != JsonValueKind.Object || !IsNullOrEmptyArray(hooks, "poststop")))
        {
            return false;
        }

        if (!config.TryGetProperty("cgroups", out var cgroups) || cgroups.ValueKind != JsonValueKind.Object || IsTrue(cgroups, "Systemd"))
        {
            return false;
        }

        // cgroup v2 has one unified path, keyed ""; v1 has one per controller, which runc's manager handles.
        if (!state.TryGetProperty("cgroup_paths", out var paths) || paths.ValueKind != JsonValueKind.Object
            || paths.EnumerateObject().Count() != 1 || !paths.TryGetProperty("", out var unified) || unified.GetString() is not { } path)
        {
            return false;
        }

        var full = Path.GetFullPath(path);
        if (full != path || !full.StartsWith(cgroupRoot.TrimEnd('/') + "/", StringComparison.Ordinal))
        {
            return false;
        }

        cgroup = full;
        return true;
    }

    /// <summary>rmdir of the cgroup and the cgroups the container made below it, deepest first; true when none is left.
    /// A populated cgroup refuses (EBUSY) and is left to runc.</summary>
    private static bool RemoveCgroup(string cgroup)
    {
        try
        {
            if (!Directory.Exists(cgroup))
            {
                return true;
            }

            foreach (var child in Directory.EnumerateDirectories(cgroup, "*", SearchOption.AllDirectories).OrderByDescending(d => d.Length))
            {
                Directory.Delete(child, recursive: false);
            }

            Directory.Delete(cgroup, recursive: false);
            return true;
        }
        catch (DirectoryNotFoundException)
        {
            return !Directory.Exists(cgroup);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static string? Text(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static bool IsTrue(JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.True;

    private static bool IsNullOrMissing(JsonElement e, string name) => !e.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null;

    private static bool IsNullOrEmptyArray(JsonElement e, string name) =>
        !e.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null || (v.ValueKind == JsonValueKind.Array && v.GetArrayLength() == 0);
}
