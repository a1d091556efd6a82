namespace Isola;

/// <summary>A port published from the host to a pod on a pod network.</summary>
/// <param name="HostPort">The host's port, 1-65535.</param>
/// <param name="ContainerPort">The pod's port, 1-65535.</param>
/// <param name="Protocol">tcp, udp or sctp.</param>
/// <param name="HostIp">The host address to publish on; empty for all.</param>
public sealed record PortMapping(int HostPort, int ContainerPort, string Protocol = "tcp", string HostIp = "")
{
    /// <summary>Parses <c>[HOSTIP:]HOSTPORT:PORT[/tcp|udp|sctp]</c>, as <c>isola sandbox run --publish</c> takes it;
    /// anything else is an InvalidArgument error naming the text.</summary>
    public static PortMapping Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var proto = "tcp";
        var slash = text.LastIndexOf('/');
        var body = text;
        if (slash >= 0)
        {
            proto = text[(slash + 1)..];
            body = text[..slash];
        }

        var parts = body.Split(':');
        if (parts.Length is not (2 or 3))
        {
            parts = ["", "", ""];
        }

        var ok = proto is "tcp" or "udp" or "sctp";
        var hostIp = parts.Length == 3 ? parts[0] : "";
        ok &= hostIp == "" || System.Net.IPAddress.TryParse(hostIp, out _);
        ok &= int.TryParse(parts[^2], System.Globalization.CultureInfo.InvariantCulture, out var hostPort) && hostPort is > 0 and < 65536;
        ok &= int.TryParse(parts[^1], System.Globalization.CultureInfo.InvariantCulture, out var port) && port is > 0 and < 65536;
        return ok ? new PortMapping(hostPort, port, proto, hostIp)
            : throw IsolaException.InvalidArgument($"published port '{text}': use [HOSTIP:]HOSTPORT:PORT[/tcp|udp|sctp] with ports 1-65535");
    }
}

/// <summary>A pod's network on a pod network (<see cref="SandboxSpec.Network"/> <c>pod</c>): what CNI gave it.</summary>
public sealed record SandboxNetwork
{
    /// <summary>The CNI network's name.</summary>
    public required string Name { get; init; }

    /// <summary>The pod's network namespace (<c>/run/netns/isola-ID</c>).</summary>
    public required string Namespace { get; init; }

    /// <summary>The pod's addresses.</summary>
    public IReadOnlyList<string> Addresses { get; init; } = [];

    /// <summary>The published ports.</summary>
    public IReadOnlyList<PortMapping> Ports { get; init; } = [];
}
