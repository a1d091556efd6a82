namespace Isola.Plugins.Shim.Controller;

/// <summary>
/// Tells whether a pod's pause process still runs without asking its shim. runc containers outlive a killed shim, so
/// "shim unreachable" alone does not mean the pod ended: only a pause that is gone does.
/// </summary>
internal static class PauseProcess
{
    /// <summary>
    /// True when <paramref name="pid"/> is alive (not a zombie) and sits in the pod's cgroup
    /// <paramref name="cgroupsPath"/>, so a pid reused by an unrelated process is not mistaken for the pause.
    /// </summary>
    public static bool IsAlive(uint pid, string? cgroupsPath)
    {
        if (pid == 0)
        {
            return false;
        }

        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var close = stat.LastIndexOf(')');
            if (close < 0 || close + 2 >= stat.Length || stat[close + 2] is 'Z' or 'X')
            {
                return false;
            }

            if (string.IsNullOrEmpty(cgroupsPath))
            {
                return true;
            }

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
}
