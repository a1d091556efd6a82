using System.Globalization;

namespace Isola.Plugins.Shim.Controller;

/// <summary>
/// The kernel drops a signal sent to a PID namespace's init unless the init handles it, so a SIGTERM that reaches the
/// pause between exec and its sigaction() would be lost and Stop would wait out its whole grace period. Start therefore
/// returns only once the pause catches SIGTERM (SigCgt in /proc/PID/status).
/// </summary>
/// <remarks>
/// Task Start returns as soon as `runc start` has read the exec FIFO, which `runc init` writes before it execs the pause:
/// the pid may still be runc init, a Go program whose runtime catches SIGTERM too (about 1 start in 20 here). A SIGTERM
/// it takes dies with it at the exec. So the process must be the pause itself (its comm: the bundle always names the
/// binary /pause) as well as catch SIGTERM.
/// </remarks>
internal static class PauseSignals
{
    private const ulong SigTermBit = 1UL << (15 - 1);

    public static async Task WaitForHandlersAsync(uint pid, CancellationToken cancellationToken)
    {
        for (var i = 0; i < 200; i++)
        {
            if (IsReady(pid) is not false)
            {
                return; // caught, or the process is gone (Wait reports that)
            }

            await Task.Delay(5, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>True once <paramref name="pid"/> runs the pause and catches SIGTERM; null when it is gone.</summary>
    internal static bool? IsReady(uint pid)
    {
        try
        {
            if (File.ReadAllText($"/proc/{pid}/comm").TrimEnd('\n') != Path.GetFileName(PauseBundle.PauseInRootfs))
            {
                return false; // still runc init: not exec'd yet
            }

            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith("SigCgt:", StringComparison.Ordinal))
                {
                    return (ulong.Parse(line[7..].Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture) & SigTermBit) != 0;
                }
            }
        }
        catch (IOException)
        {
            return null;
        }

        return null;
    }
}
