namespace Isola.Executors;

/// <summary>The state of a task or exec process, as containerd.v1.types.Status defines it.</summary>
public enum TaskStatus
{
    /// <summary>Unknown.</summary>
    Unknown = 0,
    /// <summary>Created, not started.</summary>
    Created = 1,
    /// <summary>Running.</summary>
    Running = 2,
    /// <summary>Exited.</summary>
    Stopped = 3,
    /// <summary>Paused.</summary>
    Paused = 4,
    /// <summary>Being paused.</summary>
    Pausing = 5,
}

/// <summary>Arguments of Task.Create.</summary>
public sealed record TaskCreateRequest
{
    /// <summary>The task (container) id.</summary>
    public required string Id { get; init; }

    /// <summary>The bundle directory holding config.json.</summary>
    public required string Bundle { get; init; }

    /// <summary>Rootfs mounts to set up before the process starts.</summary>
    public IReadOnlyList<Mount> Rootfs { get; init; } = [];

    /// <summary>Allocate a terminal.</summary>
    public bool Terminal { get; init; }

    /// <summary>Where stdio goes, as the task service sees it (the controller's Prepare may have translated it).</summary>
    public required StdioSpec Stdio { get; init; }

    /// <summary>The caller's own stdio on the host, when the controller translated it into <see cref="Stdio"/>; null
    /// when the two are the same. An executor relays a stream <see cref="Stdio"/> names (a `streaming_id=` URL, for a
    /// guest that shares no filesystem) to and from these files (contract 1.2).</summary>
    public StdioSpec? HostStdio { get; init; }

    /// <summary>Runtime-specific options, a protobuf Any (type url, bytes); null for none.</summary>
    public (string TypeUrl, byte[] Value)? Options { get; init; }
}

/// <summary>Arguments of Task.Exec.</summary>
public sealed record TaskExecRequest
{
    /// <summary>The task id.</summary>
    public required string Id { get; init; }

    /// <summary>The exec id.</summary>
    public required string ExecId { get; init; }

    /// <summary>Allocate a terminal.</summary>
    public bool Terminal { get; init; }

    /// <summary>Where stdio goes, as the task service sees it (the controller's Prepare may have translated it).</summary>
    public required StdioSpec Stdio { get; init; }

    /// <summary>The caller's own stdio on the host, when the controller translated it into <see cref="Stdio"/>; null
    /// when the two are the same. An executor relays a stream <see cref="Stdio"/> names (a `streaming_id=` URL, for a
    /// guest that shares no filesystem) to and from these files (contract 1.2).</summary>
    public StdioSpec? HostStdio { get; init; }

    /// <summary>The OCI Process to run, as JSON.</summary>
    public required string ProcessSpecJson { get; init; }
}

/// <summary>The answer of Task.State.</summary>
public sealed record TaskState
{
    /// <summary>The task id.</summary>
    public required string Id { get; init; }

    /// <summary>The exec id, empty for the init process.</summary>
    public string ExecId { get; init; } = "";

    /// <summary>The bundle.</summary>
    public string Bundle { get; init; } = "";

    /// <summary>The process id.</summary>
    public uint Pid { get; init; }

    /// <summary>The status.</summary>
    public TaskStatus Status { get; init; }

    /// <summary>Stdio as the service knows it.</summary>
    public StdioSpec Stdio { get; init; } = new("", "", "");

    /// <summary>Whether it has a terminal.</summary>
    public bool Terminal { get; init; }

    /// <summary>Its exit, when <see cref="Status"/> is <see cref="TaskStatus.Stopped"/>.</summary>
    public ExitStatus? Exit { get; init; }
}

/// <summary>The answer of Task.Delete.</summary>
/// <param name="Pid">The process id it had.</param>
/// <param name="Exit">How it exited.</param>
public sealed record TaskDeleteResult(uint Pid, ExitStatus Exit);

/// <summary>The answer of Task.Connect.</summary>
/// <param name="ShimPid">The task service's own process id.</param>
/// <param name="TaskPid">The task's process id.</param>
/// <param name="Version">The service's version string.</param>
public sealed record TaskConnectResult(uint ShimPid, uint TaskPid, string Version);

/// <summary>Task statistics as a protobuf Any (for runc shims, io.containerd.cgroups.v1/v2 metrics).</summary>
/// <param name="TypeUrl">The Any's type url.</param>
/// <param name="Value">The encoded message.</param>
public sealed record TaskStats(string TypeUrl, byte[] Value);
