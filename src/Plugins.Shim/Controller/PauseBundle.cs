using System.Text.Json.Nodes;
using Isola.Controllers;

namespace Isola.Plugins.Shim.Controller;

/// <summary>Writes the pause container's OCI bundle: its config.json, whose root is the shared read-only
/// <see cref="PauseRootfs"/> (the pause binary and the empty /proc mount point).</summary>
internal static class PauseBundle
{
    public const string PauseInRootfs = "/pause";

    /// <summary>Creates <paramref name="bundle"/> (0700) with config.json, rooted at <paramref name="rootfs"/>.</summary>
    /// <paramref name="group"/>, when the pod joins a shared shim, is written as the shim's grouping annotation: the
    /// pause says which shim it belongs to, as containerd's pods do.
    public static void Write(string bundle, string sandboxId, SandboxSpec spec, string hostname, string cgroupsPath, string rootfs, string? group)
    {
        Directory.CreateDirectory(bundle, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var config = Config(sandboxId, spec, hostname, cgroupsPath);
        config["root"]!["path"] = rootfs;
        if (group is not null)
        {
            config["annotations"]![ShimController.GroupAnnotation] = group;
        }

        File.WriteAllText(Path.Combine(bundle, "config.json"), config.ToJsonString());
    }

    /// <summary>The pause's OCI runtime spec. New pid, ipc, uts and mount namespaces; the network namespace is new,
    /// the host's ("host") or an existing path; read-only rootfs; no capabilities; no oomScoreAdj (lowering it
    /// needs CAP_SYS_RESOURCE in the caller's user namespace, which not every host has).</summary>
    public static JsonObject Config(string sandboxId, SandboxSpec spec, string hostname, string cgroupsPath)
    {
        var namespaces = new JsonArray(
            new JsonObject { ["type"] = "pid" },
            new JsonObject { ["type"] = "ipc" },
            new JsonObject { ["type"] = "uts" },
            new JsonObject { ["type"] = "mount" });
        if (string.IsNullOrEmpty(spec.Network))
        {
            namespaces.Add(new JsonObject { ["type"] = "network" });
        }
        else if (spec.Network != SandboxSpec.HostNetwork)
        {
            namespaces.Add(new JsonObject { ["type"] = "network", ["path"] = spec.Network });
        }

        var resources = spec.Resources is { } r ? OciSpecEdits.Resources(r) : new JsonObject();
        resources["devices"] = new JsonArray(new JsonObject { ["allow"] = false, ["access"] = "rwm" });

        return new JsonObject
        {
            ["ociVersion"] = "1.0.2",
            ["process"] = new JsonObject
            {
                ["terminal"] = false,
                ["user"] = new JsonObject { ["uid"] = 0, ["gid"] = 0 },
                ["args"] = new JsonArray(PauseInRootfs),
                ["env"] = new JsonArray("PATH=/"),
                ["cwd"] = "/",
                ["capabilities"] = new JsonObject
                {
                    ["bounding"] = new JsonArray(),
                    ["effective"] = new JsonArray(),
                    ["permitted"] = new JsonArray(),
                },
                ["noNewPrivileges"] = true,
            },
            ["root"] = new JsonObject { ["path"] = "rootfs", ["readonly"] = true },
            ["hostname"] = hostname,
            // runc needs /proc in the container to close inherited fds before exec. /dev is a small tmpfs because
            // without a /dev mount runc makes its device nodes and the ptmx link in the rootfs itself, and the rootfs
            // is shared by every pause (PauseRootfs): concurrent runcs would race on those files.
            ["mounts"] = new JsonArray(
                new JsonObject
                {
                    ["destination"] = "/proc",
                    ["type"] = "proc",
                    ["source"] = "proc",
                    ["options"] = new JsonArray("nosuid", "noexec", "nodev"),
                },
                new JsonObject
                {
                    ["destination"] = "/dev",
                    ["type"] = "tmpfs",
                    ["source"] = "tmpfs",
                    ["options"] = new JsonArray("nosuid", "noexec", "strictatime", "mode=755", "size=64k"),
                }),
            ["annotations"] = new JsonObject
            {
                [OciSpecEdits.ContainerTypeAnnotation] = "sandbox",
                [OciSpecEdits.SandboxIdAnnotation] = sandboxId,
            },
            ["linux"] = new JsonObject
            {
                ["namespaces"] = namespaces,
                ["cgroupsPath"] = cgroupsPath,
                ["resources"] = resources,
                ["maskedPaths"] = new JsonArray("/proc/kcore", "/proc/keys", "/proc/timer_list", "/sys/firmware"),
                ["readonlyPaths"] = new JsonArray("/proc/sys", "/proc/sysrq-trigger"),
            },
        };
    }
}
