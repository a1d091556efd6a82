using System.Globalization;

namespace Isola.Plugins.StratoVirt.Vmm.Processes;

/// <summary>A pid plus its start time (field 22 of /proc/&lt;pid&gt;/stat), so that a pid recycled by another
/// process after a host restart is never mistaken for our VMM, and never signalled.</summary>
internal readonly record struct ProcessIdentity(int Pid, ulong StartTime)
{
    /// <summary>Reads the identity of a live process; null when it does not exist or is a zombie.</summary>
    public static ProcessIdentity? Read(int pid)
    {
        var stat = ReadStat(pid);
        if (stat is null || stat.Value.State == 'Z')
        {
            return null;
        }

        return new ProcessIdentity(pid, stat.Value.StartTime);
    }

    /// <summary>True while this very process runs (not exited, not a zombie, pid not reused).</summary>
    public bool IsAlive()
    {
        var stat = ReadStat(Pid);
        return stat is { } s && s.State != 'Z' && s.StartTime == StartTime;
    }

    /// <summary>The process's command line, or empty when gone.</summary>
    public string CommandLine()
    {
        try
        {
            return File.ReadAllText($"/proc/{Pid}/cmdline").Replace('\0', ' ').Trim();
        }
        catch (IOException)
        {
            return "";
        }
        catch (UnauthorizedAccessException)
        {
            return "";
        }
    }

    public override string ToString() => Pid.ToString(CultureInfo.InvariantCulture) + "@" + StartTime.ToString(CultureInfo.InvariantCulture);

    /// <summary>Parses <see cref="ToString"/>.</summary>
    public static ProcessIdentity? Parse(string? text)
    {
        var parts = text?.Split('@');
        return parts is [var p, var t] && int.TryParse(p, CultureInfo.InvariantCulture, out var pid) &&
               ulong.TryParse(t, CultureInfo.InvariantCulture, out var start)
            ? new ProcessIdentity(pid, start)
            : null;
    }

    private static (char State, ulong StartTime)? ReadStat(int pid)
    {
        string text;
        try
        {
            text = File.ReadAllText($"/proc/{pid}/stat");
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }

        // The command name (field 2) may hold spaces and parentheses: fields after it start past the last ')'.
        var rest = text[(text.LastIndexOf(')') + 2)..].Split(' ');
        return (rest[0][0], ulong.Parse(rest[19], CultureInfo.InvariantCulture));
    }
}
