using System.Text.Json.Nodes;
using Isola.Hosting.Containers;

namespace Isola.Hosting.Tests.Containers;

public sealed class OciSpecBuilderTests
{
    private static SandboxInfo Sandbox(string? network = null) => new()
    {
        Id = "sb1", Name = "web", Runtime = "runc", Controller = "shim", State = SandboxState.Ready,
        Spec = new SandboxSpec { Id = "sb1", Network = network },
    };

    private static JsonNode Build(ContainerSpec spec, string? network = null) =>
        OciSpecBuilder.BuildSpec(Sandbox(network), "c1", spec);

    private static string[] Strings(JsonNode? array) => [.. array!.AsArray().Select(n => (string)n!)];

    [Fact]
    public void Defaults_follow_containerd()
    {
        var oci = Build(new ContainerSpec { Rootfs = "/r", Args = ["sh"] });
        Assert.Equal("1.1.0", (string?)oci["ociVersion"]);
        Assert.Equal("rootfs", (string?)oci["root"]!["path"]);
        Assert.False((bool)oci["root"]!["readonly"]!);
        Assert.Equal("web", (string?)oci["hostname"]);
        var process = oci["process"]!;
        Assert.Equal(["sh"], Strings(process["args"]));
        Assert.Equal([OciSpecBuilder.DefaultPath], Strings(process["env"]));
        Assert.Equal("/", (string?)process["cwd"]);
        Assert.True((bool)process["noNewPrivileges"]!);
        Assert.Equal(14, Strings(process["capabilities"]!["bounding"]).Length);
        Assert.Contains("CAP_NET_BIND_SERVICE", Strings(process["capabilities"]!["effective"]));
        Assert.DoesNotContain("CAP_SYS_ADMIN", Strings(process["capabilities"]!["permitted"]));
        Assert.Equal(["/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys"],
            oci["mounts"]!.AsArray().Select(m => (string)m!["destination"]!));
        Assert.Equal(["pid", "ipc", "uts", "mount", "network"], oci["linux"]!["namespaces"]!.AsArray().Select(n => (string)n!["type"]!));
        Assert.Contains("/proc/kcore", Strings(oci["linux"]!["maskedPaths"]));
        Assert.Contains("/proc/sys", Strings(oci["linux"]!["readonlyPaths"]));
        Assert.Null(oci["linux"]!["resources"]);
    }

    [Fact]
    public void The_caller_spec_is_carried_over()
    {
        var oci = Build(new ContainerSpec
        {
            Rootfs = "/r", Args = ["app", "--flag"], Env = ["PATH=/bin", "X=1"], Cwd = "/work", Uid = 1000, Gid = 100, ReadOnlyRootfs = true,
            Mounts = [Mount.Bind("/host/data", "/data", readOnly: true), new Mount("tmpfs", "tmpfs", "/dev/shm", ["size=1m"])],
            Resources = new LinuxResources { CpuShares = 512, CpuQuota = 50000, CpuPeriod = 100000, CpusetCpus = "0", MemoryLimitBytes = 1 << 20, PidsLimit = 10 },
            Annotations = new Dictionary<string, string> { ["a"] = "b", ["io.kubernetes.cri.sandbox-id"] = "spoofed" },
        }, network: SandboxSpec.HostNetwork);
        Assert.Equal(["PATH=/bin", "X=1"], Strings(oci["process"]!["env"]));
        Assert.Equal("/work", (string?)oci["process"]!["cwd"]);
        Assert.Equal(1000u, (uint)oci["process"]!["user"]!["uid"]!);
        Assert.True((bool)oci["root"]!["readonly"]!);
        var mounts = oci["mounts"]!.AsArray();
        Assert.Single(mounts, m => (string?)m!["destination"] == "/dev/shm");
        Assert.Equal(["size=1m"], Strings(mounts.Single(m => (string?)m!["destination"] == "/dev/shm")!["options"]));
        Assert.Equal(["rbind", "ro"], Strings(mounts.Single(m => (string?)m!["destination"] == "/data")!["options"]));
        Assert.DoesNotContain("network", oci["linux"]!["namespaces"]!.AsArray().Select(n => (string)n!["type"]!));
        var resources = oci["linux"]!["resources"]!;
        Assert.Equal(512ul, (ulong)resources["cpu"]!["shares"]!);
        Assert.Equal("0", (string?)resources["cpu"]!["cpus"]);
        Assert.Equal(1 << 20, (long)resources["memory"]!["limit"]!);
        Assert.Equal(10, (long)resources["pids"]!["limit"]!);
        Assert.Equal("b", (string?)oci["annotations"]!["a"]);
        Assert.Equal("sb1", (string?)oci["annotations"]!["io.kubernetes.cri.sandbox-id"]);
    }

    [Fact]
    public void An_exec_process_inherits_the_container_environment_and_cwd()
    {
        var container = new ContainerSpec { Rootfs = "/r", Args = ["sh"], Env = ["A=1", "B=2"], Cwd = "/srv", Uid = 5 };
        var process = OciSpecBuilder.BuildProcess(container, new ExecSpec { Args = ["id"], Env = ["B=3"] });
        Assert.Equal(["id"], Strings(process["args"]));
        Assert.Equal([OciSpecBuilder.DefaultPath, "A=1", "B=3"], Strings(process["env"]));
        Assert.Equal("/srv", (string?)process["cwd"]);
        Assert.Equal(5u, (uint)process["user"]!["uid"]!);
    }

    [Fact]
    public void Empty_args_are_refused()
    {
        var e = Assert.Throws<IsolaException>(() => OciSpecBuilder.BuildProcess(new ContainerSpec { Rootfs = "/r", Args = ["sh"] }, new ExecSpec { Args = [] }));
        Assert.Equal(IsolaErrorCode.InvalidArgument, e.Code);
    }
}
