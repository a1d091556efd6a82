namespace Isola.Plugins.Shim.Controller;

/// <summary>Removes a sandbox's cgroup (and anything nested in it) from every mounted hierarchy, cgroup v1 or v2,
/// when the OCI runtime left it behind (a runtime killed half-way, a shim killed with -9).</summary>
internal static class CgroupCleaner
{
    private const string Root = "/sys/fs/cgroup";

    /// <summary>The directories <paramref name="cgroupsPath"/> maps to on this machine.</summary>
    public static IEnumerable<string> Locations(string cgroupsPath)
    {
        var relative = cgroupsPath.TrimStart('/');
        if (File.Exists(Path.Combine(Root, "cgroup.controllers")))
        {
            yield return Path.Combine(Root, relative); // unified (v2) only
            yield break;
        }

        if (!Directory.Exists(Root))
        {
            yield break;
        }

        foreach (var hierarchy in Directory.EnumerateDirectories(Root))
        {
            yield return Path.Combine(hierarchy, relative);
        }
    }

    /// <summary>Removes every location of <paramref name="cgroupsPath"/>, children first; returns what could not be removed.</summary>
    public static IReadOnlyList<string> Remove(string cgroupsPath)
    {
        var left = new List<string>();
        foreach (var dir in Locations(cgroupsPath).Where(Directory.Exists))
        {
            RemoveTree(dir, left);
        }

        return left;
    }

    // cgroup directories go with rmdir(2) only (their files cannot be unlinked), so no recursive Directory.Delete.
    private static void RemoveTree(string dir, List<string> left)
    {
        foreach (var child in Directory.EnumerateDirectories(dir))
        {
            RemoveTree(child, left);
        }

        for (var attempt = 0; ; attempt++)
        {
            try
            {
                if (Directory.Exists(dir))
                {
                    Directory.Delete(dir);
                }

                return;
            }
            catch (IOException) when (attempt < 20)
            {
                Thread.Sleep(25); // EBUSY right after the last process left
            }
            catch (IOException)
            {
                left.Add(dir);
                return;
            }
        }
    }
}
