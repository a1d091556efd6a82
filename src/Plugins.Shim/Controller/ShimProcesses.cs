using System.Globalization;
using Isola.Plugins.Shim.Native;

namespace Isola.Plugins.Shim.Controller;

/// <summary>Finds and ends the shim process serving a bundle, when a graceful Shutdown could not.</summary>
internal static class ShimProcesses
{
    /// <summary>The pid the runc shim recorded in its bundle (shim.pid), if that process still runs the shim for
    /// <paramref name="id"/> (checked against /proc/PID/cmdline, so a reused pid is never signalled).</summary>
    public static int? FindLiveShim(string bundle, string id)
    {
        var pidFile = Path.Combine(bundle, "shim.pid");
        if (!File.Exists(pidFile) || !int.TryParse(File.ReadAllText(pidFile).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
        {
            return null;
        }

        string[] args;
        try
        {
            args = File.ReadAllText($"/proc/{pid}/cmdline").Split('\0');
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }

        var idIndex = Array.IndexOf(args, "-id");
        return idIndex >= 0 && idIndex + 1 < args.Length && args[idIndex + 1] == id && args[0].Contains("containerd-shim", StringComparison.Ordinal)
            ? pid
            : null;
    }

    /// <summary>SIGKILLs <paramref name="pid"/> and waits (up to 5 s) for it to disappear.</summary>
    public static async Task KillAsync(int pid)
    {
        LibC.kill(pid, 9);
        for (var i = 0; i < 200 && Directory.Exists($"/proc/{pid}") && !IsZombie(pid); i++)
        {
            await Task.Delay(25).ConfigureAwait(false);
        }
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
