using System.Text.Json.Nodes;

namespace Isola.Plugins.Shim.Tests.Infrastructure;

/// <summary>An OCI runtime spec shaped like the one the host generates (containerd's defaults).</summary>
internal static class ContainerSpecs
{
    public static JsonObject Oci(string sandboxId, IReadOnlyList<string> args, string hostname = "ignored-by-the-pod")
    {
        var caps = new JsonArray("CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_SETGID", "CAP_SETUID", "CAP_KILL", "CAP_NET_RAW");
        return new JsonObject
        {
            ["ociVersion"] = "1.1.0",
            ["process"] = new JsonObject
            {
                ["terminal"] = false,
                ["user"] = new JsonObject { ["uid"] = 0, ["gid"] = 0 },
                ["args"] = new JsonArray([.. args.Select(a => (JsonNode)a)]),
                ["env"] = new JsonArray("PATH=/bin"),
                ["cwd"] = "/",
                ["capabilities"] = new JsonObject { ["bounding"] = caps.DeepClone(), ["effective"] = caps.DeepClone(), ["permitted"] = caps },
                ["noNewPrivileges"] = true,
            },
            ["root"] = new JsonObject { ["path"] = "rootfs", ["readonly"] = false },
            ["hostname"] = hostname,
            ["mounts"] = new JsonArray(
                new JsonObject { ["destination"] = "/proc", ["type"] = "proc", ["source"] = "proc", ["options"] = new JsonArray("nosuid", "noexec", "nodev") },
                new JsonObject { ["destination"] = "/dev", ["type"] = "tmpfs", ["source"] = "tmpfs", ["options"] = new JsonArray("nosuid", "strictatime", "mode=755", "size=65536k") }),
            ["annotations"] = new JsonObject { ["io.kubernetes.cri.sandbox-id"] = sandboxId, ["io.kubernetes.cri.container-type"] = "container" },
            ["linux"] = new JsonObject
            {
                ["namespaces"] = new JsonArray(
                    new JsonObject { ["type"] = "pid" }, new JsonObject { ["type"] = "ipc" }, new JsonObject { ["type"] = "uts" },
                    new JsonObject { ["type"] = "mount" }, new JsonObject { ["type"] = "network" }),
                ["maskedPaths"] = new JsonArray("/proc/kcore"),
            },
        };
    }
}
