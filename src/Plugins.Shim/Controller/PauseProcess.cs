using System.Globalization;

namespace Isola.Plugins.Shim.Controller;

/// <summary>
/// Tells whether a pod's pause process still runs without asking its shim. runc containers outlive a killed shim, so
/// "shim unreachable" alone does not mean the pod ended: only a pause that is gone does; and a shim that answers may
/// not have noticed yet that its pause died.
/// </summary>
internal static class PauseProcess
{
    /// <summary>
    /// True when <paramref name="pid"/> is alive (not a zombie), started at <paramref name="startTime"/> when that is
    /// known (so a pid reused since is not mistaken for the pause: the cheap, exact check), and sits in the pod's cgroup
    /// <paramref name="cgroupsPath"/> when that is known (the check for records from before start times were kept).
    /// </summary>
    public static bool IsAlive(uint pid, string? cgroupsPath, ulong? startTime = null)
    {
        if (pid == 0 || Stat(pid) is not { } stat || stat.State is 'Z' or 'X' || startTime is { } expected && stat.StartTime != expected)
        {
            return false;
        }

        if (startTime is not null || string.IsNullOrEmpty(cgroupsPath))
        {
            return true;
        }

        try
        {
            var path = "/" + cgroupsPath.Trim('/');
            foreach (var line in File.ReadLines($"/proc/{pid}/cgroup"))
            {
                var member = line[(line.LastIndexOf(':') + 1)..];
                if (member == path || member.StartsWith(path + "/", StringComparison.Ordinal))
                {
                    return true;
                }
            }

            return false;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false; // gone
        }
    }

    /// <summary>The start time of <paramref name="pid"/> in clock ticks after boot (field 22 of /proc/PID/stat), or null
    /// when it does not exist.</summary>
    public static ulong? StartTime(uint pid) => Stat(pid)?.StartTime;

    // Fields after the command name, which is in parentheses and may itself hold spaces or ')': split after the last ')'.
    private static (char State, ulong StartTime)? Stat(uint pid)
    {
        string stat;
        try
        {
            stat = File.ReadAllText($"/proc/{pid}/stat");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null; // gone
        }

        var close = stat.LastIndexOf(')');
        var fields = close < 0 ? [] : stat[(close + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        // fields[0] is field 3 (state), so field 22 (starttime) is fields[19].
        return fields.Length > 19 && ulong.TryParse(fields[19], NumberStyles.None, CultureInfo.InvariantCulture, out var start)
            ? (fields[0][0], start)
            : null;
    }
}
