namespace Isola;

/// <summary>The life of a container as the host tracks it.</summary>
public enum ContainerState
{
    /// <summary>Not known (for example after a restart, before the task service answered).</summary>
    Unknown = 0,
    /// <summary>Prepared and created in the task service, not started.</summary>
    Created,
    /// <summary>Its process runs.</summary>
    Running,
    /// <summary>Paused.</summary>
    Paused,
    /// <summary>Its process has exited.</summary>
    Stopped,
}

/// <summary>A snapshot of a container.</summary>
public sealed record ContainerInfo
{
    /// <summary>The container id.</summary>
    public required ContainerId Id { get; init; }

    /// <summary>The sandbox it lives in.</summary>
    public required SandboxId SandboxId { get; init; }

    /// <summary>Its state.</summary>
    public required ContainerState State { get; init; }

    /// <summary>The spec it was created from.</summary>
    public required ContainerSpec Spec { get; init; }

    /// <summary>The bundle directory the controller prepared.</summary>
    public string Bundle { get; init; } = "";

    /// <summary>Its init process id as the task service reports it (inside the VM for VM sandboxes).</summary>
    public uint Pid { get; init; }

    /// <summary>Where stdio goes.</summary>
    public required StdioSpec Stdio { get; init; }

    /// <summary>Stdio as the task service sees it, when the sandbox's controller translated <see cref="Stdio"/> (a VM
    /// guest's paths, or streams over its agent channel); null when the two are the same (contract 1.2).</summary>
    public StdioSpec? TaskStdio { get; init; }

    /// <summary>When it was created.</summary>
    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>How it exited, once it has.</summary>
    public ExitStatus? Exit { get; init; }
}
