using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace Isola.Controllers;

/// <summary>A container, or an exec process in one, to prepare in a sandbox.</summary>
public sealed record PrepareRequest
{
    /// <summary>The container id.</summary>
    public required ContainerId ContainerId { get; init; }

    /// <summary>The exec id for an exec process; null for the container itself.</summary>
    public ExecId? ExecId { get; init; }

    /// <summary>The container's spec as the caller gave it.</summary>
    public required ContainerSpec Container { get; init; }

    /// <summary>
    /// The OCI runtime spec (config.json) the host generated; for an exec, the OCI Process. The request owns it and
    /// hands it to the controller by reference: Prepare edits it in place (<see cref="OciSpecEdits"/> has the shared
    /// edits, such as joining the pod's namespaces) and serialises it once, where it writes the bundle. For an exec,
    /// the caller hands what Prepare leaves here to the task service. A caller that keeps its own copy passes a
    /// <see cref="JsonNode.DeepClone"/> (contract 1.2).
    /// </summary>
    public required JsonObject OciSpec { get; init; }

    /// <summary>
    /// <see cref="OciSpec"/> as JSON text, for plugins built against contract 1.2 before <see cref="OciSpec"/>: reading
    /// serialises the spec (with any edits made so far), setting parses it (InvalidArgument when it is not a JSON object).
    /// </summary>
    [Obsolete("Use OciSpec, the spec itself: edit it in place rather than parsing and serialising it again.")]
    [JsonIgnore]
    public string OciSpecJson
    {
        get => OciSpec.ToJsonString();
        init => OciSpec = OciSpecEdits.Parse(value, $"container '{ContainerId}': the OCI spec");
    }

    /// <summary>Where the process's stdio goes.</summary>
    public required StdioSpec Stdio { get; init; }
}

/// <summary>What Prepare reports.</summary>
/// <param name="Bundle">The bundle directory to hand to the task service (may be ignored by VM agents).</param>
/// <param name="Rootfs">Rootfs mounts to hand to the task service's Create; empty when the bundle's rootfs is ready.</param>
public sealed record PrepareResult(string Bundle, IReadOnlyList<Mount> Rootfs)
{
    /// <summary>Stdio to hand to the task service instead of the request's, when the controller has to translate host
    /// paths into what the task service sees (a VM guest, say); null keeps the request's.</summary>
    public StdioSpec? Stdio { get; init; }

    /// <summary>Runtime-specific options for the task service's Create, a protobuf Any (type url, bytes) handed on as
    /// <see cref="Executors.TaskCreateRequest.Options"/>: the runc shim's <c>containerd.runc.v1.Options</c> naming the
    /// pod's OCI runtime, say. Null for none, and ignored for an exec process (contract 1.2).</summary>
    public (string TypeUrl, byte[] Value)? Options { get; init; }
}

/// <summary>A container or exec process to purge.</summary>
/// <param name="ContainerId">The container id.</param>
/// <param name="ExecId">The exec id, or null for the container.</param>
public sealed record PurgeRequest(ContainerId ContainerId, ExecId? ExecId = null);

/// <summary>New resources for the sandbox or one of its containers.</summary>
/// <param name="ContainerId">The container id, or null for the sandbox.</param>
/// <param name="Resources">The new limits.</param>
public sealed record UpdateResourcesRequest(ContainerId? ContainerId, LinuxResources Resources)
{
    /// <summary>Annotations passed through to the runtime.</summary>
    public IReadOnlyDictionary<string, string> Annotations { get; init; } = new Dictionary<string, string>();
}
