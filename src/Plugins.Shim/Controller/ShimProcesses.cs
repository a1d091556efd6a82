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

    /// <summary>
    /// The pid of the process serving the Unix socket <paramref name="socketPath"/>: the listening socket's inode from
    /// /proc/net/unix, then the process holding a descriptor on it. The runc shim inherits its listener from
    /// `shim start`, so this finds the shim a cancelled or failed Start launched even before its pid was learned.
    /// </summary>
    public static int? FindBySocket(string socketPath)
    {
        string? inode = null;
        try
        {
            foreach (var line in File.ReadLines("/proc/net/unix").Skip(1))
            {
                // Num RefCount Protocol Flags Type St Inode Path; flag 0x10000 = listening (__SO_ACCEPTCON)
                var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (fields.Length >= 8 && fields[7] == socketPath && (Convert.ToInt32(fields[3], 16) & 0x10000) != 0)
                {
                    inode = fields[6];
                    break;
                }
            }
        }
        catch (IOException)
        {
            return null;
        }

        if (inode is null)
        {
            return null;
        }

        var target = $"socket:[{inode}]";
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid))
            {
                continue;
            }

            try
            {
                if (Directory.EnumerateFileSystemEntries(Path.Combine(dir, "fd")).Any(fd => new FileInfo(fd).LinkTarget == target))
                {
                    return pid;
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // gone, or not ours to read
            }
        }

        return null;
    }

    /// <summary>The TTRPC_ADDRESS of every live containerd shim on the machine: the events endpoints still needed.</summary>
    public static HashSet<string> EventsAddressesOfLiveShims()
    {
        var found = new HashSet<string>(StringComparer.Ordinal);
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out _))
            {
                continue;
            }

            try
            {
                var cmdline = File.ReadAllText(Path.Combine(dir, "cmdline"));
                var argv0 = cmdline.IndexOf('\0') is var end and >= 0 ? cmdline[..end] : cmdline;
                if (!argv0.Contains("containerd-shim", StringComparison.Ordinal))
                {
                    continue;
                }

                foreach (var variable in File.ReadAllText(Path.Combine(dir, "environ")).Split('\0'))
                {
                    if (variable.StartsWith("TTRPC_ADDRESS=", StringComparison.Ordinal))
                    {
                        found.Add(variable["TTRPC_ADDRESS=".Length..]);
                    }
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // gone, or not ours to read
            }
        }

        return found;
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
