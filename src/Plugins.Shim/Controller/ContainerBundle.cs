using System.Text.Json.Nodes;
using Isola.Controllers;

namespace Isola.Plugins.Shim.Controller;

/// <summary>Writes a container's bundle: the host's OCI spec, adjusted to live in the pod.</summary>
internal static class ContainerBundle
{
    /// <summary>
    /// Joins the pause's network, IPC and UTS namespaces through /proc/PID/ns (keeping its own pid and mount
    /// namespaces), drops the hostname (the pod's UTS namespace already has it), points root at the rootfs directory
    /// in place (no host mount to leak), nests the cgroup under the sandbox's, and marks it as the sandbox's container.
    /// Edits <paramref name="spec"/> in place.
    /// </summary>
    public static JsonObject Adjust(JsonObject spec, SandboxId sandboxId, ContainerId containerId, uint pausePid, string rootfs,
        bool readOnly, string sandboxCgroup)
    {
        OciSpecEdits.SetRoot(spec, rootfs, readOnly);
        spec.Remove("hostname");
        OciSpecEdits.JoinPodNamespaces(spec, pausePid, onlyRequested: false);
        OciSpecEdits.NestCgroup(spec, sandboxCgroup, containerId, onlyUnset: false);
        if (spec["annotations"] is not JsonObject annotations)
        {
            spec["annotations"] = annotations = [];
        }

        annotations[OciSpecEdits.SandboxIdAnnotation] = sandboxId.Value;
        annotations[OciSpecEdits.ContainerTypeAnnotation] ??= "container";
        return spec;
    }
}
