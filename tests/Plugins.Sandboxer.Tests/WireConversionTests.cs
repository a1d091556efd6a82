using Isola.Plugins.Sandboxer.Wire;

namespace Isola.Plugins.Sandboxer.Tests;

/// <summary>The small mappings both generations share.</summary>
public sealed class WireConversionTests
{
    [Fact]
    public void A_state_string_other_than_CRIs_two_is_a_protocol_error_not_NotReady()
    {
        Assert.True(Conversions.IsReady("SANDBOX_READY", "s"));
        Assert.False(Conversions.IsReady("SANDBOX_NOTREADY", "s"));
        var e = Assert.Throws<IsolaException>(() => Conversions.IsReady("RUNNING", "s1"));
        Assert.Equal(IsolaErrorCode.Internal, e.Code);
        Assert.Contains("RUNNING", e.Message);
        Assert.Contains("s1", e.Message);
    }

    [Theory]
    [InlineData(0, 0u)]
    [InlineData(-5, 0u)]
    [InlineData(1, 1u)]
    [InlineData(1001, 2u)]
    [InlineData(10000, 10u)]
    public void Stop_timeouts_round_up_to_whole_seconds(int milliseconds, uint seconds) =>
        Assert.Equal(seconds, Conversions.TimeoutSeconds(TimeSpan.FromMilliseconds(milliseconds)));

    [Fact]
    public void Malformed_OCI_JSON_is_InvalidArgument_naming_the_container()
    {
        var e = Assert.Throws<IsolaException>(() => OciJson.ParseSpec("{not json", "c9"));
        Assert.Equal(IsolaErrorCode.InvalidArgument, e.Code);
        Assert.Contains("c9", e.Message);
        Assert.Throws<IsolaException>(() => OciJson.ParseProcess("[1]", "c9"));
    }

    [Fact]
    public void Resources_use_the_OCI_names_and_omit_what_is_unset()
    {
        var json = OciJson.Resources(new LinuxResources { CpuQuota = 5000, CpuPeriod = 10000, CpusetCpus = "0-1" }).ToJsonString();
        Assert.Equal("""{"cpu":{"quota":5000,"period":10000,"cpus":"0-1"}}""", json);
    }
}
