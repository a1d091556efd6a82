using System.Globalization;

namespace Isola.Hosting.State;

/// <summary>A process told apart from a later one that reuses its pid: the pid plus its start time.</summary>
internal static class ProcessIdentity
{
    /// <summary>The start time of <paramref name="pid"/> in clock ticks after boot; 0 when there is no such process.</summary>
    public static ulong StartTime(uint pid) => Read(pid).StartTime;

    /// <summary>False when the recorded process has certainly ended (gone, a zombie, or its pid reused); true when it
    /// runs or when nothing was recorded to tell.</summary>
    public static bool MayBeAlive(uint pid, ulong startTime)
    {
        if (pid == 0 || startTime == 0)
        {
            return true;
        }

        var (state, started) = Read(pid);
        return started == startTime && state is not ('Z' or 'X');
    }

    private static (char State, ulong StartTime) Read(uint pid)
    {
        if (pid == 0)
        {
            return default;
        }

        string stat;
        try
        {
            stat = File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return default;
        }

        // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so count fields after the last ')'.
        // state is the 1st of them, starttime (field 22 of the line) the 20th.
        var rest = stat.AsSpan(stat.LastIndexOf(')') + 1);
        var field = 0;
        var state = '\0';
        foreach (var range in rest.Split(' '))
        {
            var token = rest[range];
            if (token.IsEmpty)
            {
                continue;
            }

            field++;
            if (field == 1)
            {
                state = token[0];
            }
            else if (field == 20)
            {
                return (state, ulong.TryParse(token, NumberStyles.None, CultureInfo.InvariantCulture, out var ticks) ? ticks : 0);
            }
        }

        return default;
    }
}
