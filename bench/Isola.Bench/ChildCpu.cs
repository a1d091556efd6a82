using System.Runtime.InteropServices;

namespace Isola.Bench;

/// <summary>
/// CPU time (user + system) of this process's reaped children, from getrusage(RUSAGE_CHILDREN). Read before and after
/// one command, the difference is what that command's own process spent, however loaded the machine is: wall times on
/// a shared machine rise with its load, this does not. The shims a pod command starts daemonise (they are not this
/// process's children), so their work and runc's is not counted.
/// </summary>
internal static class ChildCpu
{
    private const int RusageChildren = -1;

    /// <summary>Milliseconds of CPU the reaped children have used so far.</summary>
    public static double TotalMs()
    {
        // struct rusage on 64-bit Linux: ru_utime and ru_stime (timeval: seconds, microseconds), then 14 longs.
        var usage = new long[18];
        if (getrusage(RusageChildren, usage) != 0)
        {
            throw new InvalidOperationException($"getrusage failed: errno {Marshal.GetLastPInvokeError()}");
        }

        return (usage[0] + usage[2]) * 1000.0 + (usage[1] + usage[3]) / 1000.0;
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int getrusage(int who, [Out] long[] usage);
}
