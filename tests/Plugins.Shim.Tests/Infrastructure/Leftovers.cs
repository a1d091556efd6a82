using Isola.Controllers;
using Isola.Plugins.Shim.Controller;

namespace Isola.Plugins.Shim.Tests.Infrastructure;

/// <summary>Everything a pause sandbox can leave on the machine, looked up independently of the controller.</summary>
internal static class Leftovers
{
    /// <summary>What of sandbox <paramref name="sandboxId"/> (and its containers) is still around: processes, runc
    /// state, mounts, cgroups, bundles and the shim socket. Empty when it is all gone.</summary>
    public static List<string> Of(string sandboxId, string stateDirectory, IEnumerable<string> containerIds, string? shimSocket)
    {
        var found = new List<string>();
        var ids = containerIds.Append(sandboxId).ToList();
        found.AddRange(Processes(sandboxId).Select(p => $"process {p}"));
        // Any namespace: the default one derives from the state root, and a test may use it.
        foreach (var id in ids)
        {
            foreach (var state in Directory.Exists(RuncRoot) ? Directory.GetDirectories(RuncRoot).Select(ns => Path.Combine(ns, id)).Where(Directory.Exists) : [])
            {
                found.Add($"runc state {state}");
            }
        }

        foreach (var line in File.ReadLines("/proc/self/mountinfo"))
        {
            if (line.Contains(stateDirectory, StringComparison.Ordinal) || ids.Any(id => line.Contains("/" + id + "/", StringComparison.Ordinal)))
            {
                found.Add($"mount {line}");
            }
        }

        foreach (var dir in CgroupCleaner.Locations(PodHarness.CgroupParent).Where(Directory.Exists).SelectMany(Directory.EnumerateDirectories)
                     .Where(d => IsLeafOf(Path.GetFileName(d), sandboxId)))
        {
            found.Add($"cgroup {dir}");
        }

        foreach (var bundle in new[] { Path.Combine(stateDirectory, "pause"), Path.Combine(stateDirectory, "bundles") }.Where(Directory.Exists))
        {
            found.Add($"bundle {bundle}");
        }

        if (shimSocket is not null && File.Exists(shimSocket))
        {
            found.Add($"shim socket {shimSocket}");
        }

        return found;
    }

    public static List<string> Of(SandboxContext sandbox, IEnumerable<string> containerIds, string? shimSocket) =>
        Of(sandbox.Id.Value, sandbox.StateDirectory, containerIds, shimSocket);

    /// <summary>True when <paramref name="pid"/> has exited: no /proc entry, or a zombie its parent (for a daemonised shim,
    /// the machine's init) has not reaped yet.</summary>
    public static bool Gone(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..].StartsWith('Z');
        }
        catch (IOException)
        {
            return true;
        }
    }

    /// <summary>The socket path in a task address like ttrpc+unix:///run/containerd/s/HASH.</summary>
    public static string SocketOf(string taskAddress) => taskAddress[(taskAddress.IndexOf("unix://", StringComparison.Ordinal) + 7)..];

    private const string RuncRoot = "/run/containerd/runc";

    /// <summary>True for a pod cgroup leaf of <paramref name="sandboxId"/>: the id itself, or TAG-id as the controller names it.</summary>
    public static bool IsLeafOf(string leaf, string sandboxId) => leaf == sandboxId || leaf.EndsWith("-" + sandboxId, StringComparison.Ordinal);

    /// <summary>Processes whose command line names the sandbox (its shim) or whose cgroup is the sandbox's (pause, containers).</summary>
    public static List<string> Processes(string sandboxId)
    {
        var found = new List<string>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            var name = Path.GetFileName(dir);
            if (!int.TryParse(name, out var pid) || pid == Environment.ProcessId)
            {
                continue;
            }

            try
            {
                var cmdline = File.ReadAllText(Path.Combine(dir, "cmdline")).Replace('\0', ' ').Trim();
                var cgroup = File.ReadAllText(Path.Combine(dir, "cgroup"));
                var inPod = cgroup.Split('\n').Select(l => l[(l.LastIndexOf(':') + 1)..]).Any(path =>
                    path.StartsWith(PodHarness.CgroupParent + "/", StringComparison.Ordinal) &&
                    IsLeafOf(path[(PodHarness.CgroupParent.Length + 1)..].Split('/')[0], sandboxId));
                if (cmdline.Length > 0 && (cmdline.Contains($"-id {sandboxId}", StringComparison.Ordinal) || inPod))
                {
                    found.Add($"{pid} {cmdline}");
                }
            }
            catch (IOException)
            {
                // exited while we looked
            }
        }

        return found;
    }
}
