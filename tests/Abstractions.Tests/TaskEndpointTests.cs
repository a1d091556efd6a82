using Isola.Executors;

namespace Isola.Abstractions.Tests;

public sealed class TaskEndpointTests
{
    [Theory]
    [InlineData("ttrpc+unix:///run/isola/s.sock", 2, "ttrpc+unix", "/run/isola/s.sock", 2)]
    [InlineData("TTRPC+VSOCK://3:1024", 3, "ttrpc+vsock", "3:1024", 3)]
    [InlineData("/run/shim.sock", 0, "unix", "/run/shim.sock", 2)]
    [InlineData("unix:///x", 0, "unix", "/x", 2)]
    public void Parses_scheme_target_and_version(string address, uint version, string scheme, string target, uint expectedVersion)
    {
        var endpoint = TaskEndpoint.Parse(address, version);
        Assert.Equal((address, scheme, target, expectedVersion), (endpoint.Address, endpoint.Scheme, endpoint.Target, endpoint.Version));
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("no-scheme")]
    [InlineData("://target")]
    [InlineData("unix://")]
    public void Malformed_addresses_are_refused_naming_them(string address)
    {
        var e = Assert.Throws<IsolaException>(() => TaskEndpoint.Parse(address, 2));
        Assert.Equal(IsolaErrorCode.InvalidArgument, e.Code);
        if (!string.IsNullOrWhiteSpace(address))
        {
            Assert.Contains($"'{address}'", e.Message);
        }
    }
}
