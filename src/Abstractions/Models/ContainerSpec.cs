namespace Isola;

/// <summary>What a caller asks for when it creates a container inside a ready sandbox.</summary>
public sealed record ContainerSpec
{
    /// <summary>The container id; the host generates one when null. A string converts to it implicitly, validated.</summary>
    public ContainerId? Id { get; init; }

    /// <summary>The root filesystem: a host directory, or (for VM sandboxes) a block device or image file.</summary>
    public required string Rootfs { get; init; }

    /// <summary>Mount the root filesystem read-only.</summary>
    public bool ReadOnlyRootfs { get; init; }

    /// <summary>The command and its arguments; must not be empty.</summary>
    public required IReadOnlyList<string> Args { get; init; }

    /// <summary>Environment variables as NAME=value; a default PATH is added when none is given.</summary>
    public IReadOnlyList<string> Env { get; init; } = [];

    /// <summary>Working directory inside the container; "/" when null.</summary>
    public string? Cwd { get; init; }

    /// <summary>User id the process runs as.</summary>
    public uint Uid { get; init; }

    /// <summary>Group id the process runs as.</summary>
    public uint Gid { get; init; }

    /// <summary>Extra mounts.</summary>
    public IReadOnlyList<Mount> Mounts { get; init; } = [];

    /// <summary>Resource limits.</summary>
    public LinuxResources? Resources { get; init; }

    /// <summary>Allocate a terminal.</summary>
    public bool Terminal { get; init; }

    /// <summary>Where stdio goes; null captures stdout and stderr to files in the container's state directory.</summary>
    public StdioSpec? Stdio { get; init; }

    /// <summary>Labels, for selection and display.</summary>
    public IReadOnlyDictionary<string, string> Labels { get; init; } = new Dictionary<string, string>();

    /// <summary>Annotations written into the container's OCI spec.</summary>
    public IReadOnlyDictionary<string, string> Annotations { get; init; } = new Dictionary<string, string>();
}

/// <summary>Where a process's standard streams go: paths (files or FIFOs) or URLs the task service understands.</summary>
/// <param name="Stdin">Standard input; empty for none (at EOF).</param>
/// <param name="Stdout">Standard output; empty to discard.</param>
/// <param name="Stderr">Standard error; empty to discard.</param>
public sealed record StdioSpec(string Stdin, string Stdout, string Stderr);
