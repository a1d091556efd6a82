using System.Text.Json.Nodes;

namespace Isola.Plugins.TaskApi.Tests;

/// <summary>Task Update's resources: the OCI runtime-spec's linux.resources, with only what was asked for.</summary>
public sealed class OciResourcesTests
{
    [Fact]
    public void Every_limit_lands_under_its_OCI_key()
    {
        var json = OciResources.ToJson(new LinuxResources
        {
            CpuShares = 512,
            CpuQuota = 50_000,
            CpuPeriod = 100_000,
            CpusetCpus = "0-1",
            MemoryLimitBytes = 64 << 20,
            PidsLimit = 100,
        });

        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""
            {"cpu":{"shares":512,"quota":50000,"period":100000,"cpus":"0-1"},"memory":{"limit":67108864},"pids":{"limit":100}}
            """), JsonNode.Parse(json)), json);
    }

    [Fact]
    public void Limits_not_given_are_left_out_rather_than_zeroed()
    {
        Assert.Equal("""{"memory":{"limit":1048576}}""", OciResources.ToJson(new LinuxResources { MemoryLimitBytes = 1 << 20 }));
        Assert.Equal("{}", OciResources.ToJson(new LinuxResources()));
    }
}
