using System.Text.Json.Nodes;
using Isola.TestSupport;

namespace Isola.Agent.Tests;

/// <summary>OCI bundles for the tests: a config.json running the given command in a busybox rootfs that all tests share
/// (read-only), or in BUNDLE/rootfs for tests that mount it there.</summary>
public static class TestBundle
{
    // Built once per machine and kept: every container mounts it read-only. Built aside and renamed into place, so a
    // concurrent test run never sees half of it.
    private static readonly Lazy<string> s_rootfs = new(() =>
    {
        var path = Path.Combine(Path.GetTempPath(), "isola-agent-tests-rootfs");
        if (!File.Exists(Path.Combine(path, "bin", "busybox")))
        {
            var staging = TestRootfs.Make(Path.Combine(Path.GetTempPath(), $"isola-agent-tests-rootfs.{Environment.ProcessId}"));
            try
            {
                Directory.Move(staging, path);
            }
            catch (IOException)
            {
                Directory.Delete(staging, recursive: true); // another run got there first
            }
        }

        return path;
    });

    /// <summary>The cgroup (linux.cgroupsPath) of container <paramref name="id"/>: top-level, so that runc's delete removes
    /// all of it.</summary>
    public static string CgroupPath(string id) => "/isola-agent-test-" + id;

    /// <summary>The shared busybox rootfs.</summary>
    public static string SharedRootfs => s_rootfs.Value;

    /// <summary>A unique container id for a test.</summary>
    public static string NewId(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..Math.Min(prefix.Length + 13, 64)];

    /// <summary>Writes a bundle (without <paramref name="pidNamespace"/> the process shares the host's pid namespace and
    /// is not an init there, so a signal without a handler kills it rather than being ignored) in a new directory under <paramref name="parent"/>; root.path is <paramref name="rootfs"/>
    /// (absolute: the shared rootfs by default) or "rootfs" when null is passed with <paramref name="ownRootfs"/>.</summary>
    public static string Create(string parent, string id, string[] args, bool ownRootfs = false, bool pidNamespace = true)
    {
        var bundle = Path.Combine(parent, "bundles", id);
        Directory.CreateDirectory(bundle);
        var root = ownRootfs ? "rootfs" : SharedRootfs;
        File.WriteAllText(Path.Combine(bundle, "config.json"), Config(id, root, args, pidNamespace).ToJsonString());
        return bundle;
    }

    /// <summary>The config.json of <see cref="Create"/>, as text, for a test that carries it another way.</summary>
    public static string ConfigJson(string id, string root, string[] args) => Config(id, root, args, pidNamespace: true).ToJsonString();

    private static JsonObject Config(string id, string root, string[] args, bool pidNamespace) => new()
    {
        ["ociVersion"] = "1.0.2",
        ["process"] = new JsonObject
        {
            ["terminal"] = false,
            ["user"] = new JsonObject { ["uid"] = 0, ["gid"] = 0 },
            ["args"] = new JsonArray(args.Select(a => (JsonNode)a!).ToArray()),
            ["env"] = new JsonArray("PATH=/usr/sbin:/usr/bin:/sbin:/bin"),
            ["cwd"] = "/",
            ["noNewPrivileges"] = true,
        },
        ["root"] = new JsonObject { ["path"] = root, ["readonly"] = true },
        ["hostname"] = id[..Math.Min(id.Length, 63)],
        ["mounts"] = new JsonArray(
            Mount("/proc", "proc", "proc", "nosuid", "noexec", "nodev"),
            Mount("/dev", "tmpfs", "tmpfs", "nosuid", "strictatime", "mode=755", "size=65536k"),
            Mount("/dev/pts", "devpts", "devpts", "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"),
            Mount("/dev/shm", "tmpfs", "shm", "nosuid", "noexec", "nodev", "mode=1777", "size=65536k"),
            Mount("/tmp", "tmpfs", "tmpfs", "nosuid", "nodev", "mode=1777"),
            Mount("/sys", "sysfs", "sysfs", "nosuid", "noexec", "nodev", "ro")),
        ["linux"] = new JsonObject
        {
            ["cgroupsPath"] = CgroupPath(id),
            ["namespaces"] = new JsonArray(new[] { pidNamespace ? "pid" : null, "ipc", "uts", "mount", "network" }
                .Where(n => n is not null).Select(n => (JsonNode)new JsonObject { ["type"] = n }).ToArray()),
            ["maskedPaths"] = new JsonArray("/proc/kcore", "/proc/keys", "/sys/firmware"),
            ["readonlyPaths"] = new JsonArray("/proc/sys", "/proc/sysrq-trigger"),
        },
    };

    private static JsonObject Mount(string destination, string type, string source, params string[] options) => new()
    {
        ["destination"] = destination,
        ["type"] = type,
        ["source"] = source,
        ["options"] = new JsonArray(options.Select(o => (JsonNode)o!).ToArray()),
    };
}
