namespace Isola.Abstractions.Tests;

public sealed class PortMappingTests
{
    [Theory]
    [InlineData("8080:80", 8080, 80, "tcp", "")]
    [InlineData("127.0.0.1:8080:80/udp", 8080, 80, "udp", "127.0.0.1")]
    public void Published_ports_parse(string text, int hostPort, int port, string proto, string hostIp)
    {
        Assert.Equal(new PortMapping(hostPort, port, proto, hostIp), PortMapping.Parse(text));
    }

    [Theory]
    [InlineData("80")]
    [InlineData("0:80")]
    [InlineData("8080:70000")]
    [InlineData("8080:80/icmp")]
    [InlineData("host:8080:80")]
    public void Malformed_published_ports_are_refused_naming_them(string text)
    {
        var e = Assert.Throws<IsolaException>(() => PortMapping.Parse(text));
        Assert.Contains($"'{text}'", e.Message, StringComparison.Ordinal);
    }
}
