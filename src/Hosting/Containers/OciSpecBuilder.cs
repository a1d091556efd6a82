using System.Text.Json.Nodes;
using Isola.Controllers;

namespace Isola.Hosting.Containers;

/// <summary>
/// Generates a container's OCI runtime spec (config.json) and an exec's OCI Process, with containerd's defaults:
/// mounts, namespaces, capabilities, masked and read-only paths. The result goes to the controller's Prepare as an
/// object, which the controller adjusts in place (for example to join the pause container's namespaces) and
/// serialises once, where it writes the bundle.
/// </summary>
internal static class OciSpecBuilder
{
    /// <summary>The OCI runtime-spec version written.</summary>
    public const string OciVersion = "1.1.0";

    /// <summary>PATH used when the spec sets none (containerd's default).</summary>
    public const string DefaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    // containerd's default capability set (oci.defaultUnixCaps).
    private static readonly string[] DefaultCapabilities =
    [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
        "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
    ];

    private static readonly string[] MaskedPaths =
    [
        "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
        "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
    ];

    private static readonly string[] ReadonlyPaths = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];

    private static readonly Mount[] DefaultMounts =
    [
        new("proc", "proc", "/proc", ["nosuid", "noexec", "nodev"]),
        new("tmpfs", "tmpfs", "/dev", ["nosuid", "strictatime", "mode=755", "size=65536k"]),
        new("devpts", "devpts", "/dev/pts", ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]),
        new("tmpfs", "shm", "/dev/shm", ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]),
        new("mqueue", "mqueue", "/dev/mqueue", ["nosuid", "noexec", "nodev"]),
        new("sysfs", "sysfs", "/sys", ["nosuid", "noexec", "nodev", "ro"]),
    ];

    /// <summary>The config.json of container <paramref name="containerId"/> in sandbox <paramref name="sandbox"/>.</summary>
    public static JsonObject BuildSpec(SandboxInfo sandbox, ContainerId containerId, ContainerSpec spec)
    {
        var annotations = new JsonObject();
        foreach (var (key, value) in spec.Annotations)
        {
            annotations[key] = value;
        }

        annotations[OciSpecEdits.SandboxIdAnnotation] = sandbox.Id.Value;
        annotations[OciSpecEdits.ContainerTypeAnnotation] = "container";
        annotations["io.kubernetes.cri.container-name"] = containerId.Value;

        // A destination given by the caller replaces the default mount at the same place.
        var mounts = DefaultMounts.Where(d => spec.Mounts.All(m => m.Destination != d.Destination)).Concat(spec.Mounts);

        var linux = new JsonObject
        {
            ["namespaces"] = Namespaces(sandbox.Spec),
            ["maskedPaths"] = Strings(MaskedPaths),
            ["readonlyPaths"] = Strings(ReadonlyPaths),
        };
        if (spec.Resources is { } resources)
        {
            linux["resources"] = OciSpecEdits.Resources(resources);
        }

        return new JsonObject
        {
            ["ociVersion"] = OciVersion,
            ["process"] = Process(spec.Args, spec.Env, spec.Cwd, spec.Uid, spec.Gid, spec.Terminal),
            ["root"] = new JsonObject { ["path"] = "rootfs", ["readonly"] = spec.ReadOnlyRootfs },
            ["hostname"] = sandbox.Spec.Hostname ?? sandbox.Name,
            ["mounts"] = new JsonArray([.. mounts.Select(MountJson)]),
            ["annotations"] = annotations,
            ["linux"] = linux,
        };
    }

    /// <summary>The OCI Process of an exec in a container created from <paramref name="container"/>.</summary>
    public static JsonObject BuildProcess(ContainerSpec container, ExecSpec exec)
    {
        // The exec inherits the container's environment; its own variables win.
        var names = exec.Env.Select(Name).ToHashSet(StringComparer.Ordinal);
        var env = container.Env.Where(e => !names.Contains(Name(e))).Concat(exec.Env).ToList();
        return Process(exec.Args, env, exec.Cwd ?? container.Cwd, container.Uid, container.Gid, exec.Terminal);
    }

    private static JsonObject Process(IReadOnlyList<string> args, IReadOnlyList<string> env, string? cwd, uint uid, uint gid, bool terminal)
    {
        if (args.Count == 0)
        {
            throw IsolaException.InvalidArgument("a process needs a command: args must not be empty");
        }

        var fullEnv = env.Any(e => e.StartsWith("PATH=", StringComparison.Ordinal)) ? env : [DefaultPath, .. env];
        var caps = Strings(DefaultCapabilities);
        return new JsonObject
        {
            ["terminal"] = terminal,
            ["user"] = new JsonObject { ["uid"] = uid, ["gid"] = gid },
            ["args"] = Strings(args),
            ["env"] = Strings(fullEnv),
            ["cwd"] = string.IsNullOrEmpty(cwd) ? "/" : cwd,
            ["capabilities"] = new JsonObject
            {
                ["bounding"] = caps.DeepClone(),
                ["effective"] = caps.DeepClone(),
                ["permitted"] = caps,
            },
            ["rlimits"] = new JsonArray(new JsonObject { ["type"] = "RLIMIT_NOFILE", ["hard"] = 1024, ["soft"] = 1024 }),
            ["noNewPrivileges"] = true,
        };
    }

    private static JsonArray Namespaces(SandboxSpec sandbox)
    {
        var kinds = new List<string> { "pid", "ipc", "uts", "mount" };
        if (sandbox.Network != SandboxSpec.HostNetwork)
        {
            kinds.Add("network");
        }

        return new JsonArray([.. kinds.Select(k => (JsonNode)new JsonObject { ["type"] = k })]);
    }

    private static JsonObject MountJson(Mount m) => new()
    {
        ["destination"] = m.Destination,
        ["type"] = m.Type,
        ["source"] = m.Source,
        ["options"] = Strings(m.Options),
    };

    private static JsonArray Strings(IEnumerable<string> values) => new([.. values.Select(v => (JsonNode)JsonValue.Create(v))]);

    private static string Name(string env) => env.Split('=', 2)[0];
}
