namespace Isola.Plugins.Shim.Launcher;

/// <summary>How shims are launched for one runtime handler.</summary>
internal sealed record ShimSettings
{
    /// <summary>The shim binary (name on PATH or absolute path).</summary>
    public required string ShimBinary { get; init; }

    /// <summary>The containerd namespace handed to the shim (-namespace); the runc shim keeps runc state under it.</summary>
    public required string Namespace { get; init; }

    /// <summary>What the shim is told containerd's address is (-address). Shims hash it into their socket path; this
    /// host serves nothing there.</summary>
    public required string ContainerdAddress { get; init; }

    /// <summary>The events endpoint shims publish to (TTRPC_ADDRESS): one stable socket path per state root and
    /// runtime, served by a host that wants events and otherwise refusing connections (see Events/EventsEndpoint.cs).</summary>
    public required string TtrpcAddress { get; init; }

    /// <summary>A short hash of the state root's full path: the default namespace and each pod's cgroup leaf carry it.</summary>
    public required string StateRootTag { get; init; }

    /// <summary>The shared shim's group id (ShimGrouping Runtime): its -id, and the io.containerd.runc.v2.group
    /// annotation the shim hashes into its socket address instead of a pod's id.</summary>
    public required string GroupId { get; init; }

    /// <summary>The shared shim's working directory (its config.json naming the group, its log FIFO, the member
    /// records): what a pod's bundle is to a per-pod shim.</summary>
    public required string GroupDirectory { get; init; }

    /// <summary>-publish-binary: the legacy event publisher. 1.x+ shims publish over TTRPC_ADDRESS instead, so this
    /// is a program that accepts any arguments and drops the event.</summary>
    public string PublishBinary { get; init; } = "/bin/true";
}
