using System.Text.Json.Nodes;
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
    public void What_Kuasar_rejects_when_missing_is_filled_in_place()
    {
        var spec = new JsonObject { ["process"] = new JsonObject { ["consoleSize"] = new JsonObject { ["height"] = 1 } } };

        Assert.Same(spec, OciJson.FillSpec(spec));
        Assert.Equal(OciJson.DefaultOciVersion, (string?)spec["ociVersion"]);
        Assert.Equal("/", (string?)spec["process"]!["cwd"]);
        Assert.Equal(1, (int?)spec["process"]!["console_size"]!["height"]);
    }
}
