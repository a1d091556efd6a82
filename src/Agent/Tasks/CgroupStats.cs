using System.Globalization;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using V1 = Isola.TaskApi.Protos.Cgroups.V1;
using V2 = Isola.TaskApi.Protos.Cgroups.V2;

namespace Isola.Agent.Tasks;

/// <summary>
/// A container's cgroup figures, in the shape containerd's runc shims answer Stats with: io.containerd.cgroups.v2.Metrics
/// on a unified hierarchy (the guest), io.containerd.cgroups.v1.Metrics on a v1 host. The cgroup is the one of the
/// container's init process, read from /proc/PID/cgroup.
/// </summary>
internal sealed class CgroupStats
{
    public const string V1TypeUrl = "io.containerd.cgroups.v1.Metrics";
    public const string V2TypeUrl = "io.containerd.cgroups.v2.Metrics";

    private readonly string _cgroupRoot;
    private readonly string _procRoot;

    public CgroupStats(string cgroupRoot = "/sys/fs/cgroup", string procRoot = "/proc")
    {
        _cgroupRoot = cgroupRoot;
        _procRoot = procRoot;
    }

    /// <summary>True when the cgroup root is a cgroup2 (unified) mount.</summary>
    public bool IsUnified => File.Exists(Path.Combine(_cgroupRoot, "cgroup.controllers"));

    /// <summary>The metrics of the cgroup process <paramref name="pid"/> is in.</summary>
    /// <exception cref="IsolaException">The process is gone (NotFound).</exception>
    public Any Read(int pid, string owner)
    {
        string[] lines;
        try
        {
            lines = File.ReadAllLines(Path.Combine(_procRoot, pid.ToString(CultureInfo.InvariantCulture), "cgroup"));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw IsolaException.NotFound($"{owner}: process {pid} is gone, no cgroup to read");
        }

        // Lines are "hierarchy-id:controllers:path"; v2 has the single line "0::path".
        var paths = lines.Select(l => l.Split(':', 3)).Where(p => p.Length == 3)
            .SelectMany(p => p[1].Split(',').Select(controller => (Controller: controller, Path: p[2].TrimStart('/'))))
            .GroupBy(p => p.Controller).ToDictionary(g => g.Key, g => g.First().Path);
        return IsUnified ? Pack(ReadV2(paths.GetValueOrDefault("") ?? ""), V2TypeUrl) : Pack(ReadV1(paths), V1TypeUrl);
    }

    private static Any Pack(IMessage message, string typeUrl) => new() { TypeUrl = typeUrl, Value = message.ToByteString() };

    private V2.Metrics ReadV2(string path)
    {
        var dir = Path.Combine(_cgroupRoot, path);
        var cpu = KeyValues(Path.Combine(dir, "cpu.stat"));
        var memory = KeyValues(Path.Combine(dir, "memory.stat"));
        var events = KeyValues(Path.Combine(dir, "memory.events"));
        return new V2.Metrics
        {
            Pids = new V2.PidsStat { Current = Number(Path.Combine(dir, "pids.current")), Limit = Number(Path.Combine(dir, "pids.max")) },
            Cpu = new V2.CPUStat
            {
                UsageUsec = cpu.GetValueOrDefault("usage_usec"),
                UserUsec = cpu.GetValueOrDefault("user_usec"),
                SystemUsec = cpu.GetValueOrDefault("system_usec"),
                NrPeriods = cpu.GetValueOrDefault("nr_periods"),
                NrThrottled = cpu.GetValueOrDefault("nr_throttled"),
                ThrottledUsec = cpu.GetValueOrDefault("throttled_usec"),
            },
            Memory = new V2.MemoryStat
            {
                Anon = memory.GetValueOrDefault("anon"),
                File = memory.GetValueOrDefault("file"),
                KernelStack = memory.GetValueOrDefault("kernel_stack"),
                Slab = memory.GetValueOrDefault("slab"),
                Sock = memory.GetValueOrDefault("sock"),
                Shmem = memory.GetValueOrDefault("shmem"),
                FileMapped = memory.GetValueOrDefault("file_mapped"),
                InactiveAnon = memory.GetValueOrDefault("inactive_anon"),
                ActiveAnon = memory.GetValueOrDefault("active_anon"),
                InactiveFile = memory.GetValueOrDefault("inactive_file"),
                ActiveFile = memory.GetValueOrDefault("active_file"),
                Unevictable = memory.GetValueOrDefault("unevictable"),
                Pgfault = memory.GetValueOrDefault("pgfault"),
                Pgmajfault = memory.GetValueOrDefault("pgmajfault"),
                Usage = Number(Path.Combine(dir, "memory.current")),
                UsageLimit = Number(Path.Combine(dir, "memory.max")),
                SwapUsage = Number(Path.Combine(dir, "memory.swap.current")),
                SwapLimit = Number(Path.Combine(dir, "memory.swap.max")),
                MaxUsage = Number(Path.Combine(dir, "memory.peak")),
            },
            MemoryEvents = new V2.MemoryEvents
            {
                Low = events.GetValueOrDefault("low"),
                High = events.GetValueOrDefault("high"),
                Max = events.GetValueOrDefault("max"),
                Oom = events.GetValueOrDefault("oom"),
                OomKill = events.GetValueOrDefault("oom_kill"),
            },
        };
    }

    private V1.Metrics ReadV1(Dictionary<string, string> paths)
    {
        string Dir(string controller) => Path.Combine(_cgroupRoot, controller, paths.GetValueOrDefault(controller) ?? "");
        var memory = Dir("memory");
        var cpuacct = Dir("cpuacct");
        var pids = Dir("pids");
        var stat = KeyValues(Path.Combine(memory, "memory.stat"));
        var throttling = KeyValues(Path.Combine(Dir("cpu"), "cpu.stat"));
        // cpuacct.stat counts USER_HZ ticks (100 a second on Linux); containerd reports nanoseconds.
        var ticks = KeyValues(Path.Combine(cpuacct, "cpuacct.stat"));
        var perCpu = ReadText(Path.Combine(cpuacct, "cpuacct.usage_percpu"))?
            .Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(s => ulong.Parse(s, CultureInfo.InvariantCulture)) ?? [];
        return new V1.Metrics
        {
            Pids = new V1.PidsStat { Current = Number(Path.Combine(pids, "pids.current")), Limit = Number(Path.Combine(pids, "pids.max")) },
            Cpu = new V1.CPUStat
            {
                Usage = new V1.CPUUsage
                {
                    Total = Number(Path.Combine(cpuacct, "cpuacct.usage")),
                    User = ticks.GetValueOrDefault("user") * 10_000_000,
                    Kernel = ticks.GetValueOrDefault("system") * 10_000_000,
                    PerCpu = { perCpu },
                },
                Throttling = new V1.Throttle
                {
                    Periods = throttling.GetValueOrDefault("nr_periods"),
                    ThrottledPeriods = throttling.GetValueOrDefault("nr_throttled"),
                    ThrottledTime = throttling.GetValueOrDefault("throttled_time"),
                },
            },
            Memory = new V1.MemoryStat
            {
                Cache = stat.GetValueOrDefault("cache"),
                Rss = stat.GetValueOrDefault("rss"),
                MappedFile = stat.GetValueOrDefault("mapped_file"),
                PgFault = stat.GetValueOrDefault("pgfault"),
                PgMajFault = stat.GetValueOrDefault("pgmajfault"),
                InactiveAnon = stat.GetValueOrDefault("inactive_anon"),
                ActiveAnon = stat.GetValueOrDefault("active_anon"),
                InactiveFile = stat.GetValueOrDefault("inactive_file"),
                ActiveFile = stat.GetValueOrDefault("active_file"),
                Unevictable = stat.GetValueOrDefault("unevictable"),
                HierarchicalMemoryLimit = stat.GetValueOrDefault("hierarchical_memory_limit"),
                TotalCache = stat.GetValueOrDefault("total_cache"),
                TotalRss = stat.GetValueOrDefault("total_rss"),
                Usage = Entry(memory, "memory"),
                Swap = Entry(memory, "memory.memsw"),
                Kernel = Entry(memory, "memory.kmem"),
            },
        };
    }

    private static V1.MemoryEntry Entry(string dir, string prefix) => new()
    {
        Usage = Number(Path.Combine(dir, prefix + ".usage_in_bytes")),
        Limit = Number(Path.Combine(dir, prefix + ".limit_in_bytes")),
        Max = Number(Path.Combine(dir, prefix + ".max_usage_in_bytes")),
        Failcnt = Number(Path.Combine(dir, prefix + ".failcnt")),
    };

    private static string? ReadText(string file)
    {
        try
        {
            return File.ReadAllText(file).Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null; // a controller that is not mounted or a file this kernel lacks: the figure stays 0
        }
    }

    /// <summary>A one-number file; "max" (no limit) and a missing file read as 0, as containerd reports them.</summary>
    private static ulong Number(string file) =>
        ulong.TryParse(ReadText(file), NumberStyles.None, CultureInfo.InvariantCulture, out var value) ? value : 0;

    private static Dictionary<string, ulong> KeyValues(string file) =>
        (ReadText(file) ?? "").Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split(' ', 2))
            .Where(kv => kv.Length == 2 && ulong.TryParse(kv[1], NumberStyles.None, CultureInfo.InvariantCulture, out _))
            .GroupBy(kv => kv[0]).ToDictionary(g => g.Key, g => ulong.Parse(g.First()[1], CultureInfo.InvariantCulture));
}
