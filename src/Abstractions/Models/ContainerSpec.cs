namespace Isola;

/// <summary>What a caller asks for when it creates a container inside a ready sandbox.</summary>
public sealed record ContainerSpec
{
    /// <summary>The container id; the host generates one when null. A string converts to it implicitly, validated.</summary>
    public ContainerId? Id { get; init; }

    /// <summary>The root filesystem: a host directory, or (for VM sandboxes) a block device or image file. Give this
    /// or <see cref="Image"/>, not both.</summary>
    public string Rootfs { get; init; } = "";

    /// <summary>An OCI image (a reference such as <c>busybox</c> or <c>localhost:5000/app:v1</c>, or an image id) to
    /// run instead of <see cref="Rootfs"/>: pulled when it is not in the image store, its layers mounted as the
    /// container's rootfs (an overlay with the container's own writable layer, removed with the container), and its
    /// Entrypoint, Cmd, Env, WorkingDir and User used where this spec leaves them empty.</summary>
    public string? Image { get; init; }

    /// <summary>With <see cref="Image"/>: replaces the image's Entrypoint (an empty list removes it, and with it the
    /// image's Cmd, as <c>docker run --entrypoint</c> does). Null keeps the image's.</summary>
    public IReadOnlyList<string>? Entrypoint { get; init; }

    /// <summary>Mount the root filesystem read-only.</summary>
    public bool ReadOnlyRootfs { get; init; }

    /// <summary>The command and its arguments. With <see cref="Image"/> they replace the image's Cmd and follow its
    /// Entrypoint, and may be empty to run the image's default; without an image they must not be empty.</summary>
    public IReadOnlyList<string> Args { get; init; } = [];

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
