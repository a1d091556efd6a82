using Isola.Plugins.Shim.Native;

namespace Isola.Plugins.Shim.Controller;

/// <summary>Finds and ends the shim process serving a sandbox, when a graceful Shutdown could not.</summary>
internal static class ShimProcesses
{
    /// <summary>
    /// The pid of the live shim started for sandbox <paramref name="id"/>: a process whose command line is the
    /// daemonised shim's own (<c>SHIM -namespace NS -id ID -address ADDR</c>), so a reused pid is never signalled.
    /// The runc shim records no pid file, hence the scan of /proc.
    /// </summary>
    public static int? FindLiveShim(string id, string ns, string containerdAddress)
    {
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(dir), out var pid) && IsShim(pid, id, ns, containerdAddress))
            {
                return pid;
            }
        }

        return null;
    }

    /// <summary>True when <paramref name="pid"/> is alive (not a zombie) and is that shim.</summary>
    public static bool IsShim(int pid, string id, string ns, string containerdAddress)
    {
        string[] args;
        try
        {
            args = File.ReadAllText($"/proc/{pid}/cmdline").Split('\0', StringSplitOptions.RemoveEmptyEntries);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false; // gone
        }

        return args.Length > 0 && args[0].Contains("containerd-shim", StringComparison.Ordinal) &&
               Flag(args, "-id") == id && Flag(args, "-namespace") == ns && Flag(args, "-address") == containerdAddress;
    }

    /// <summary>SIGKILLs <paramref name="pid"/> and waits (up to 5 s) until it is gone or a zombie.</summary>
    public static async Task KillAsync(int pid)
    {
        LibC.kill(pid, 9);
        for (var i = 0; i < 200 && Directory.Exists($"/proc/{pid}") && !IsZombie(pid); i++)
        {
            await Task.Delay(25).ConfigureAwait(false);
        }
    }

    private static string? Flag(string[] args, string name)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }

    private static bool IsZombie(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var close = stat.LastIndexOf(')');
            return close > 0 && close + 2 < stat.Length && stat[close + 2] == 'Z';
        }
        catch (IOException)
        {
            return true;
        }
    }
}
