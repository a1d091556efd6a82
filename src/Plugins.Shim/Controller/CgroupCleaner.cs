namespace Isola.Plugins.Shim.Controller;

/// <summary>Removes a sandbox's cgroup (and anything nested in it) from every mounted hierarchy, cgroup v1 or v2,
/// when the OCI runtime left it behind (a runtime killed half-way, a shim killed with -9), killing what still runs in it.</summary>
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

    /// <summary>
    /// SIGKILLs every process still in <paramref name="cgroupsPath"/> or below it, in any hierarchy, and waits (about
    /// a second per round) until they have left; returns the pids it signalled. The last resort of a teardown: what
    /// neither the shim nor the OCI runtime ended (a `runc init` orphaned by a killed host, a process that joined the
    /// cgroup from outside) would otherwise keep the cgroup busy for good. cgroup v2's cgroup.kill is used where the
    /// kernel has it (it also catches processes forking meanwhile); the pid list covers v1 and older kernels.
    /// </summary>
    public static async Task<IReadOnlyCollection<int>> KillAllAsync(string cgroupsPath, CancellationToken cancellationToken)
    {
        var signalled = new HashSet<int>();
        var locations = Locations(cgroupsPath).ToList();
        for (var round = 0; round < 5; round++)
        {
            var pids = Members(locations);
            if (pids.Count == 0)
            {
                break;
            }

            foreach (var kill in locations.Select(l => Path.Combine(l, "cgroup.kill")).Where(File.Exists))
            {
                TryWrite(kill, "1");
            }

            foreach (var pid in pids)
            {
                Native.LibC.kill(pid, 9);
                signalled.Add(pid);
            }

            for (var i = 0; i < 40 && Members(locations).Count > 0; i++)
            {
                await Task.Delay(25, cancellationToken).ConfigureAwait(false);
            }
        }

        return signalled;
    }

    /// <summary>True while any process is in <paramref name="cgroupsPath"/> or below it, in any hierarchy.</summary>
    public static bool HasMembers(string cgroupsPath) => Members(Locations(cgroupsPath)).Count > 0;

    // The processes in each location and its descendants (v1 lists the same process in every hierarchy); never this one.
    private static HashSet<int> Members(IEnumerable<string> locations)
    {
        var pids = new HashSet<int>();
        var pending = new Stack<string>(locations.Where(Directory.Exists));
        while (pending.TryPop(out var dir))
        {
            try
            {
                foreach (var line in File.ReadLines(Path.Combine(dir, "cgroup.procs")))
                {
                    if (int.TryParse(line, out var pid) && pid > 1 && pid != Environment.ProcessId)
                    {
                        pids.Add(pid);
                    }
                }

                foreach (var child in Directory.EnumerateDirectories(dir))
                {
                    pending.Push(child);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // removed meanwhile
            }
        }

        return pids;
    }

    private static void TryWrite(string file, string text)
    {
        try
        {
            File.WriteAllText(file, text);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // gone meanwhile, or not supported here: the pids are signalled one by one anyway
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
