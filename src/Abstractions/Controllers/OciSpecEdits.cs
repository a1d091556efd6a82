using System.Text.Json;
using System.Text.Json.Nodes;

namespace Isola.Controllers;

/// <summary>
/// The edits every party makes to a container's OCI runtime spec (config.json), kept in one place: the host builds
/// the spec, controllers and <c>isola serve</c> adjust it, and plugins can share code only through this assembly
/// (contract 1.2). Each edit changes the <see cref="JsonObject"/> it is given in place; none parses or serialises.
/// </summary>
public static class OciSpecEdits
{
    /// <summary>The annotation naming the sandbox a container belongs to (the runc shim groups containers by it).</summary>
    public const string SandboxIdAnnotation = "io.kubernetes.cri.sandbox-id";

    /// <summary>The annotation telling a container ("container") from a sandbox ("sandbox").</summary>
    public const string ContainerTypeAnnotation = "io.kubernetes.cri.container-type";

    // The namespaces a container shares with its pod, by OCI type and /proc/PID/ns name; pid and mount stay its own.
    private static readonly (string Type, string Proc)[] PodNamespaces = [("network", "net"), ("ipc", "ipc"), ("uts", "uts")];

    /// <summary>
    /// Parses OCI JSON (a runtime spec or a Process) where it enters from outside: a file, a wire message, a caller
    /// of the compatibility member <see cref="PrepareRequest.OciSpecJson"/>. Throws <see cref="IsolaException"/>
    /// (InvalidArgument) naming <paramref name="what"/> when it is not valid JSON or not an object.
    /// </summary>
    public static JsonObject Parse(string json, string what)
    {
        ArgumentNullException.ThrowIfNull(json);
        try
        {
            return JsonNode.Parse(json) as JsonObject ?? throw IsolaException.InvalidArgument($"{what} is not a JSON object");
        }
        catch (JsonException e)
        {
            throw IsolaException.InvalidArgument($"{what} is not valid JSON: {e.Message}");
        }
    }

    /// <summary>The spec's <c>linux</c> object, added when the spec has none.</summary>
    public static JsonObject Linux(JsonObject spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (spec["linux"] is not JsonObject linux)
        {
            spec["linux"] = linux = [];
        }

        return linux;
    }

    /// <summary><paramref name="resources"/> as an OCI <c>linux.resources</c> object (also what Task Update carries):
    /// only the limits that are set, so an unset one is left alone rather than zeroed.</summary>
    public static JsonObject Resources(LinuxResources resources)
    {
        ArgumentNullException.ThrowIfNull(resources);
        var result = new JsonObject();
        var cpu = new JsonObject();
        if (resources.CpuShares is { } shares) { cpu["shares"] = shares; }
        if (resources.CpuQuota is { } quota) { cpu["quota"] = quota; }
        if (resources.CpuPeriod is { } period) { cpu["period"] = period; }
        if (resources.CpusetCpus is { } cpus) { cpu["cpus"] = cpus; }
        if (cpu.Count > 0) { result["cpu"] = cpu; }
        if (resources.MemoryLimitBytes is { } memory) { result["memory"] = new JsonObject { ["limit"] = memory }; }
        if (resources.PidsLimit is { } pids) { result["pids"] = new JsonObject { ["limit"] = pids }; }
        return result;
    }

    /// <summary>Points <c>root</c> at <paramref name="path"/> (absolute, or relative to the bundle).</summary>
    public static void SetRoot(JsonObject spec, string path, bool readOnly)
    {
        ArgumentNullException.ThrowIfNull(spec);
        spec["root"] = new JsonObject { ["path"] = path, ["readonly"] = readOnly };
    }

    /// <summary>
    /// Makes the container join its pod's network, IPC and UTS namespaces through <c>/proc/PID/ns</c> of the pod's
    /// process <paramref name="podPid"/>; its pid and mount namespaces stay its own.
    /// </summary>
    /// <param name="spec">The container's runtime spec.</param>
    /// <param name="podPid">The pod's process (a pause, say), as the spec's reader sees it.</param>
    /// <param name="onlyRequested">False: the container joins all three whatever the spec says (their entries are
    /// replaced and appended, a missing <c>linux</c> is added): a spec Isola generated always lives in its pod. True:
    /// only entries that ask for a new namespace get the pod's path, and a spec without namespaces is left alone: an
    /// engine's spec says which it wants (no network entry for host networking, a path of its own).</param>
    public static void JoinPodNamespaces(JsonObject spec, uint podPid, bool onlyRequested)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (onlyRequested)
        {
            if (spec["linux"]?["namespaces"] is not JsonArray requested)
            {
                return;
            }

            foreach (var ns in requested.OfType<JsonObject>())
            {
                var shared = Array.Find(PodNamespaces, s => s.Type == (string?)ns["type"]);
                if (shared.Type is not null && ns["path"] is null)
                {
                    ns["path"] = $"/proc/{podPid}/ns/{shared.Proc}";
                }
            }

            return;
        }

        var linux = Linux(spec);
        if (linux["namespaces"] is not JsonArray namespaces)
        {
            linux["namespaces"] = namespaces = [];
        }

        for (var i = namespaces.Count - 1; i >= 0; i--)
        {
            // An entry with no type means nothing to the runtime: dropped with the ones the pod provides.
            var type = namespaces[i]?["type"]?.GetValue<string>();
            if (type is null || Array.Exists(PodNamespaces, s => s.Type == type))
            {
                namespaces.RemoveAt(i);
            }
        }

        foreach (var (type, proc) in PodNamespaces)
        {
            namespaces.Add(new JsonObject { ["type"] = type, ["path"] = $"/proc/{podPid}/ns/{proc}" });
        }
    }

    /// <summary>
    /// Nests the container's cgroup under its pod's (<c>linux.cgroupsPath</c> = <paramref name="podCgroup"/>/container),
    /// so the pod's limits cover it and it goes away with the pod.
    /// </summary>
    /// <param name="spec">The container's runtime spec.</param>
    /// <param name="podCgroup">The pod's cgroup path.</param>
    /// <param name="containerId">The container id, the nested cgroup's name.</param>
    /// <param name="onlyUnset">False: always (a missing <c>linux</c> is added). True: only when the spec has a
    /// <c>linux</c> object without a cgroupsPath of its own (an engine's choice stands).</param>
    public static void NestCgroup(JsonObject spec, string podCgroup, ContainerId containerId, bool onlyUnset)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(podCgroup);
        var linux = onlyUnset ? spec["linux"] as JsonObject : Linux(spec);
        if (linux is null || (onlyUnset && linux["cgroupsPath"] is not null))
        {
            return;
        }

        linux["cgroupsPath"] = $"{podCgroup.TrimEnd('/')}/{containerId}";
    }
}
