using System.Text.Json.Nodes;
using Isola.Controllers;

namespace Isola.Abstractions.Tests;

/// <summary>The shared edits of an OCI spec: the host, the controllers and isola serve all make them through here.</summary>
public sealed class OciSpecEditsTests
{
    [Fact]
    public void Every_limit_lands_under_its_OCI_key()
    {
        var json = OciSpecEdits.Resources(new LinuxResources
        {
            CpuShares = 512,
            CpuQuota = 50_000,
            CpuPeriod = 100_000,
            CpusetCpus = "0-1",
            MemoryLimitBytes = 64 << 20,
            PidsLimit = 100,
        }).ToJsonString();

        Assert.Equal("""{"cpu":{"shares":512,"quota":50000,"period":100000,"cpus":"0-1"},"memory":{"limit":67108864},"pids":{"limit":100}}""", json);
    }

    [Fact]
    public void Limits_not_given_are_left_out_rather_than_zeroed()
    {
        Assert.Equal("""{"memory":{"limit":1048576}}""", OciSpecEdits.Resources(new LinuxResources { MemoryLimitBytes = 1 << 20 }).ToJsonString());
        Assert.Equal("""{"cpu":{"quota":5000,"period":10000,"cpus":"0-1"}}""",
            OciSpecEdits.Resources(new LinuxResources { CpuQuota = 5000, CpuPeriod = 10000, CpusetCpus = "0-1" }).ToJsonString());
        Assert.Equal("{}", OciSpecEdits.Resources(new LinuxResources()).ToJsonString());
    }

    [Fact]
    public void Joining_the_pod_replaces_the_shared_namespaces_and_keeps_pid_and_mount()
    {
        var spec = Spec("""[{"type":"pid"},{"type":"network","path":"/elsewhere"},{"type":"mount"},{"type":"uts"}]""");

        OciSpecEdits.JoinPodNamespaces(spec, 42, onlyRequested: false);

        Assert.Equal(
            """[{"type":"pid"},{"type":"mount"},{"type":"network","path":"/proc/42/ns/net"},{"type":"ipc","path":"/proc/42/ns/ipc"},{"type":"uts","path":"/proc/42/ns/uts"}]""",
            spec["linux"]!["namespaces"]!.ToJsonString());
    }

    [Fact]
    public void Joining_only_what_the_spec_asks_for_keeps_its_paths_and_its_host_network()
    {
        var spec = Spec("""[{"type":"pid"},{"type":"ipc","path":"/mine"},{"type":"uts"}]""");

        OciSpecEdits.JoinPodNamespaces(spec, 7, onlyRequested: true);
        var bare = new JsonObject();
        OciSpecEdits.JoinPodNamespaces(bare, 7, onlyRequested: true);

        Assert.Equal("""[{"type":"pid"},{"type":"ipc","path":"/mine"},{"type":"uts","path":"/proc/7/ns/uts"}]""",
            spec["linux"]!["namespaces"]!.ToJsonString());
        Assert.Equal("{}", bare.ToJsonString());
    }

    [Fact]
    public void The_cgroup_nests_under_the_pods_and_an_engines_own_choice_stands()
    {
        var forced = new JsonObject();
        OciSpecEdits.NestCgroup(forced, "/isola/pod/", "c1", onlyUnset: false);
        var chosen = new JsonObject { ["linux"] = new JsonObject { ["cgroupsPath"] = "/mine" } };
        OciSpecEdits.NestCgroup(chosen, "/isola/pod", "c1", onlyUnset: true);
        var unset = new JsonObject { ["linux"] = new JsonObject() };
        OciSpecEdits.NestCgroup(unset, "/isola/pod", "c1", onlyUnset: true);

        Assert.Equal("/isola/pod/c1", (string?)forced["linux"]!["cgroupsPath"]);
        Assert.Equal("/mine", (string?)chosen["linux"]!["cgroupsPath"]);
        Assert.Equal("/isola/pod/c1", (string?)unset["linux"]!["cgroupsPath"]);
    }

    [Fact]
    public void Text_is_parsed_where_it_enters_and_refused_as_InvalidArgument_naming_what_it_was()
    {
        var e = Assert.Throws<IsolaException>(() => OciSpecEdits.Parse("{not json", "container 'c9': the OCI spec"));
        var array = Assert.Throws<IsolaException>(() => OciSpecEdits.Parse("[1]", "the OCI process"));

        Assert.Equal(IsolaErrorCode.InvalidArgument, e.Code);
        Assert.Contains("'c9'", e.Message);
        Assert.Equal(IsolaErrorCode.InvalidArgument, array.Code);
    }

#pragma warning disable CS0618 // the compatibility member is what is tested
    [Fact]
    public void The_compatibility_member_reads_the_edited_spec_and_parses_what_an_older_caller_sets()
    {
        var request = new PrepareRequest
        {
            ContainerId = "c1",
            Container = new ContainerSpec { Rootfs = "/r", Args = ["sh"] },
            OciSpec = [],
            Stdio = new StdioSpec("", "", ""),
        };
        request.OciSpec["hostname"] = "h";
        var older = request with { OciSpecJson = """{"ociVersion":"1.1.0"}""" };

        Assert.Equal("""{"hostname":"h"}""", request.OciSpecJson);
        Assert.Equal("1.1.0", (string?)older.OciSpec["ociVersion"]);
        var e = Assert.Throws<IsolaException>(() => request with { OciSpecJson = "{not json" });
        Assert.Contains("'c1'", e.Message);
    }
#pragma warning restore CS0618

    private static JsonObject Spec(string namespaces) =>
        new() { ["linux"] = new JsonObject { ["namespaces"] = JsonNode.Parse(namespaces) } };
}
