namespace Isola;

/// <summary>Linux resource limits of a sandbox or container, in the OCI runtime-spec's units. Null means "not set".</summary>
public sealed record LinuxResources
{
    /// <summary>CPU shares (relative weight), as cgroup v1 cpu.shares.</summary>
    public ulong? CpuShares { get; init; }

    /// <summary>CPU quota in microseconds per <see cref="CpuPeriod"/>.</summary>
    public long? CpuQuota { get; init; }

    /// <summary>CPU period in microseconds.</summary>
    public ulong? CpuPeriod { get; init; }

    /// <summary>CPUs the workload may run on, for example "0-1".</summary>
    public string? CpusetCpus { get; init; }

    /// <summary>Memory limit in bytes.</summary>
    public long? MemoryLimitBytes { get; init; }

    /// <summary>Maximum number of processes.</summary>
    public long? PidsLimit { get; init; }
}
