using System.Text.Json.Nodes;

namespace Isola.Plugins.Shim.Controller;

/// <summary>Writes a container's bundle: the host's OCI spec, adjusted to live in the pod.</summary>
internal static class ContainerBundle
{
    /// <summary>
    /// Joins the pause's network, IPC and UTS namespaces through /proc/PID/ns (keeping its own pid and mount
    /// namespaces), drops the hostname (the pod's UTS namespace already has it), points root at the rootfs directory
    /// in place (no host mount to leak), nests the cgroup under the sandbox's, and marks it as the sandbox's container.
    /// </summary>
    public static JsonObject Adjust(JsonObject spec, string sandboxId, string containerId, uint pausePid, string rootfs,
        bool readOnly, string sandboxCgroup)
    {
        spec["root"] = new JsonObject { ["path"] = rootfs, ["readonly"] = readOnly };
        spec.Remove("hostname");
        var linux = spec["linux"] as JsonObject ?? new JsonObject();
        spec["linux"] = linux;
        var joined = new Dictionary<string, string> { ["network"] = "net", ["ipc"] = "ipc", ["uts"] = "uts" };
        var namespaces = new JsonArray();
        foreach (var node in linux["namespaces"] as JsonArray ?? [])
        {
            var type = node?["type"]?.GetValue<string>();
            if (type is not null && !joined.ContainsKey(type))
            {
                namespaces.Add(node!.DeepClone());
            }
        }

        foreach (var (type, proc) in joined)
        {
            namespaces.Add(new JsonObject { ["type"] = type, ["path"] = $"/proc/{pausePid}/ns/{proc}" });
        }

        linux["namespaces"] = namespaces;
        linux["cgroupsPath"] = $"{sandboxCgroup.TrimEnd('/')}/{containerId}";
        var annotations = spec["annotations"] as JsonObject ?? new JsonObject();
        spec["annotations"] = annotations;
        annotations[Annotations.SandboxId] = sandboxId;
        annotations[Annotations.ContainerType] ??= "container";
        return spec;
    }
}
