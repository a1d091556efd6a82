using System.Globalization;

namespace Isola.Bench;

/// <summary>
/// CPU time the whole machine spent (user + system, all cores, from /proc/stat) between two readings: the benchmark
/// and every process it starts (shims, runc, pods), which per-process accounting would miss once shims daemonise.
/// Meaningful on an otherwise idle machine.
/// </summary>
internal sealed class CpuMeter
{
    private static readonly double MsPerTick = 1000.0 / 100; // USER_HZ is 100 on Linux
    private long _last = BusyTicks();
    private TimeSpan _lastSelf = Environment.CpuUsage.TotalTime;

    /// <summary>Busy CPU milliseconds of the machine since the previous call (or construction).</summary>
    public double MsSinceLast() => Take().Machine;

    /// <summary>Busy CPU milliseconds of the machine, and of this process alone, since the previous call.</summary>
    public (double Machine, double Self) Take()
    {
        var (now, self) = (BusyTicks(), Environment.CpuUsage.TotalTime);
        var result = ((now - _last) * MsPerTick, (self - _lastSelf).TotalMilliseconds);
        (_last, _lastSelf) = (now, self);
        return result;
    }

    // The "cpu" line: user nice system idle iowait irq softirq steal ...; busy = all but idle and iowait.
    private static long BusyTicks()
    {
        var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1)
            .Select(f => long.Parse(f, CultureInfo.InvariantCulture)).ToArray();
        return fields.Sum() - fields[3] - fields[4];
    }
}
