namespace Isola;

/// <summary>What a caller asks for when it runs a sandbox (a pod: a VM or a pause container grouping containers).</summary>
public sealed record SandboxSpec
{
    /// <summary>The sandbox id; the host generates one when null. A string converts to it implicitly, validated
    /// (see <see cref="SandboxId"/>).</summary>
    public SandboxId? Id { get; init; }

    /// <summary>A unique, human-friendly name; defaults to the id.</summary>
    public string? Name { get; init; }

    /// <summary>The runtime handler (a key of the configured runtimes); null selects the default runtime.</summary>
    public string? Runtime { get; init; }

    /// <summary>The pod's hostname; defaults to the sandbox name.</summary>
    public string? Hostname { get; init; }

    /// <summary>Network: null or empty gives the pod a new network namespace; "host" shares the host's;
    /// <c>pod</c> (or <c>pod:NAME</c>) puts it on a CNI pod network (the default network, or the one named): its own
    /// named namespace with an address (see <see cref="SandboxInfo.Network"/>) and <see cref="Ports"/> published;
    /// an absolute path joins that existing network namespace.</summary>
        public string? Network { get; init; }

    /// <summary>Ports published from the host to the pod; only on a pod network.</summary>
    public IReadOnlyList<PortMapping> Ports { get; init; } = [];

    /// <summary>The network value that puts a pod on the default CNI pod network (<c>pod:NAME</c> names another).</summary>
    public const string PodNetwork = "pod";

    /// <summary>Parent cgroup for the sandbox; null uses the runtime's configured parent.</summary>
    public string? CgroupParent { get; init; }

    /// <summary>Resource limits for the whole sandbox.</summary>
    public LinuxResources? Resources { get; init; }

    /// <summary>DNS servers written to the pod's resolv.conf, where the controller supports it.</summary>
    public IReadOnlyList<string> DnsServers { get; init; } = [];

    /// <summary>Labels, for selection and display.</summary>
    public IReadOnlyDictionary<string, string> Labels { get; init; } = new Dictionary<string, string>();

    /// <summary>Annotations passed through to the controller.</summary>
    public IReadOnlyDictionary<string, string> Annotations { get; init; } = new Dictionary<string, string>();

    /// <summary>The network value that means "share the host's network namespace".</summary>
    public const string HostNetwork = "host";
}
