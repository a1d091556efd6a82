using System.Text.Json.Nodes;
using Google.Protobuf;
using Isola.TaskApi.Protos.Runc;

namespace Isola.Plugins.Shim.Controller;

/// <summary>Writes a container's bundle: the host's OCI spec, adjusted to live in the pod.</summary>
internal static class ContainerBundle
{
    /// <summary>The file the runc shim keeps its runtime options in, inside a bundle. Isola writes it ahead of Create
    /// so the executor can send the same options (the OCI runtime's binary name) for containers it creates.</summary>
    public const string OptionsFile = "options.json";

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

    /// <summary>The runc shim's options as protobuf JSON, naming the OCI runtime binary.</summary>
    public static string OptionsJson(string runtime) => JsonFormatter.Default.Format(new Options { BinaryName = runtime });

    /// <summary>Reads the options Isola wrote into <paramref name="bundle"/>, if any, for Task.Create. A bundle that is
    /// not a local directory (a VM guest's path) or a file Isola did not write yields null.</summary>
    public static (string TypeUrl, byte[] Value)? ReadOptions(string bundle)
    {
        var path = Path.Combine(bundle, OptionsFile);
        if (!Path.IsPathFullyQualified(bundle) || !File.Exists(path))
        {
            return null;
        }

        try
        {
            var options = JsonParser.Default.Parse<Options>(File.ReadAllText(path));
            return (RuncOptionsTypeUrl, options.ToByteArray());
        }
        catch (InvalidProtocolBufferException)
        {
            return null;
        }
    }

    /// <summary>The type url containerd gives runc options in CreateTaskRequest.options.</summary>
    public const string RuncOptionsTypeUrl = "containerd.runc.v1.Options";
}
