using System.Globalization;

namespace Isola.Plugins.Shim.Controller;

/// <summary>
/// The kernel drops a signal sent to a PID namespace's init unless the init handles it, so a SIGTERM that reaches the
/// pause between exec and its sigaction() would be lost and Stop would wait out its whole grace period. Start therefore
/// returns only once the pause catches SIGTERM (SigCgt in /proc/PID/status).
/// </summary>
internal static class PauseSignals
{
    private const ulong SigTermBit = 1UL << (15 - 1);

    public static async Task WaitForHandlersAsync(uint pid, CancellationToken cancellationToken)
    {
        for (var i = 0; i < 200; i++)
        {
            if (CatchesSigTerm(pid) is not false)
            {
                return; // caught, or the process is gone (Wait reports that)
            }

            await Task.Delay(5, cancellationToken).ConfigureAwait(false);
        }
    }

    private static bool? CatchesSigTerm(uint pid)
    {
        try
        {
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
