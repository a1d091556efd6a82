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
        foreach (var id in ids)
        {
            var state = Path.Combine("/run/containerd/runc", PodHarness.Namespace, id);
            if (Directory.Exists(state))
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

        foreach (var dir in CgroupCleaner.Locations($"{PodHarness.CgroupParent}/{sandboxId}").Where(Directory.Exists))
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
        Of(sandbox.Id, sandbox.StateDirectory, containerIds, shimSocket);

    /// <summary>The socket path in a task address like ttrpc+unix:///run/containerd/s/HASH.</summary>
    public static string SocketOf(string taskAddress) => taskAddress[(taskAddress.IndexOf("unix://", StringComparison.Ordinal) + 7)..];

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
                if (cmdline.Length > 0 && (cmdline.Contains($"-id {sandboxId}", StringComparison.Ordinal) ||
                                           cgroup.Contains($"{PodHarness.CgroupParent}/{sandboxId}", StringComparison.Ordinal)))
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
