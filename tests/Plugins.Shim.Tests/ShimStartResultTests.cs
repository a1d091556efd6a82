using Isola.Plugins.Shim.Launcher;

namespace Isola.Plugins.Shim.Tests;

/// <summary>Both forms of `shim start` output (containerd 1.x bare address, 2.x JSON) and the refusals.</summary>
public sealed class ShimStartResultTests
{
    [Theory]
    [InlineData("unix:///run/containerd/s/abc\n", "ttrpc+unix:///run/containerd/s/abc", 2u)]
    [InlineData("""{"version":3,"address":"unix:///run/containerd/s/abc","protocol":"ttrpc"}""", "ttrpc+unix:///run/containerd/s/abc", 3u)]
    [InlineData("""{"version":2,"address":"unix:///run/x.sock","protocol":"ttrpc"}""", "ttrpc+unix:///run/x.sock", 2u)]
    [InlineData("/run/bare.sock", "ttrpc+unix:///run/bare.sock", 2u)]
    public void Parses_bare_and_json_output(string output, string address, uint version)
    {
        var result = ShimStartResult.Parse(output, "shim");

        Assert.Equal(address, result.TaskAddress);
        Assert.Equal(version, result.Version);
    }

    [Fact]
    public void Refuses_grpc_and_undialable_addresses_naming_the_binary()
    {
        var grpc = Assert.Throws<IsolaException>(() => ShimStartResult.Parse("""{"version":3,"address":"unix:///s","protocol":"grpc"}""", "my-shim"));
        var tcp = Assert.Throws<IsolaException>(() => ShimStartResult.Parse("tcp://1.2.3.4:5", "my-shim"));
        var empty = Assert.Throws<IsolaException>(() => ShimStartResult.Parse("  \n", "my-shim"));

        Assert.Equal(IsolaErrorCode.Unimplemented, grpc.Code);
        Assert.All([grpc, tcp, empty], e => Assert.Contains("my-shim", e.Message));
    }
}
