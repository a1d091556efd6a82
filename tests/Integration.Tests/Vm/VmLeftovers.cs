using Isola.TestSupport;

namespace Isola.Integration.Tests.Vm;

/// <summary>What a VM sandbox could leave behind on the host, and the cleanup of a failed test.</summary>
internal static class VmLeftovers
{
    /// <summary>Live processes (QEMU, virtiofsd), mounts and files of the sandbox <paramref name="id"/> under
    /// <paramref name="root"/>; empty when it left nothing.</summary>
    public static IReadOnlyList<string> Of(string root, SandboxId id)
    {
        var stateDir = Path.Combine(root, id.Value);
        var found = new List<string>();
        foreach (var proc in Directory.GetDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(proc), out var pid) || pid == Environment.ProcessId)
            {
                continue;
            }

            try
            {
                var cmdline = File.ReadAllText(Path.Combine(proc, "cmdline")).Replace('\0', ' ');
                if (cmdline.Contains(stateDir, StringComparison.Ordinal) && Processes.IsRunning(pid))
                {
                    found.Add($"process {pid}: {cmdline}");
                }
            }
            catch (IOException)
            {
                // exited while we looked
            }
        }

        found.AddRange(File.ReadLines("/proc/self/mountinfo").Where(l => l.Split(' ')[4].StartsWith(stateDir, StringComparison.Ordinal))
            .Select(l => $"mount {l.Split(' ')[4]}"));
        if (Directory.Exists(stateDir))
        {
            found.Add($"state directory {stateDir}: {string.Join(", ", Directory.EnumerateFileSystemEntries(stateDir, "*", SearchOption.AllDirectories))}");
        }

        return found;
    }

    /// <summary>SIGKILLs every VMM a test left running under <paramref name="root"/>.</summary>
    public static void KillVmms(string root)
    {
        if (!Directory.Exists(root))
        {
            return;
        }

        foreach (var pidFile in Directory.GetFiles(root, "vmm.pid", SearchOption.AllDirectories))
        {
            if (int.TryParse(File.ReadAllText(pidFile).Trim(), out var pid) && Processes.IsRunning(pid))
            {
                try
                {
                    System.Diagnostics.Process.GetProcessById(pid).Kill();
                }
                catch (ArgumentException)
                {
                    // gone meanwhile
                }
            }
        }
    }

    /// <summary>Lazily unmounts everything mounted under <paramref name="dir"/>, deepest first.</summary>
    public static void UnmountUnder(string dir)
    {
        foreach (var mountPoint in File.ReadAllLines("/proc/self/mountinfo").Select(l => l.Split(' ')[4])
                     .Where(m => m.StartsWith(dir, StringComparison.Ordinal)).OrderByDescending(m => m.Length))
        {
            using var umount = System.Diagnostics.Process.Start("umount", ["-l", mountPoint]);
            umount.WaitForExit();
        }
    }
}
