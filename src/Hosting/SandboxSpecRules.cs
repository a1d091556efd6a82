using System.Net;
using System.Net.Sockets;

namespace Isola.Hosting;

/// <summary>
/// Rules on sandbox spec values that the host enforces when a sandbox is created, public so that every entrance (the
/// command line, an application's own front end) can refuse a bad value before it starts a host or sends a request.
/// </summary>
public static class SandboxSpecRules
{
    /// <summary>True when <paramref name="value"/> is what resolv.conf's <c>nameserver</c> takes, so a valid entry of
    /// <see cref="SandboxSpec.DnsServers"/>: an IPv4 dotted quad or an IPv6 address, never a host name.</summary>
    /// <param name="value">The DNS server to check.</param>
    public static bool IsNameserver(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        // IPAddress.TryParse alone also takes "10" or "10.1" (inet_aton forms) that nobody means as a nameserver.
        return IPAddress.TryParse(value, out var address) &&
            (address.AddressFamily == AddressFamily.InterNetworkV6 ? value.Contains(':') : value.Count(c => c == '.') == 3);
    }

    /// <summary>Throws InvalidArgument naming the sandbox and the value when a DNS server is not an IP address.</summary>
    internal static void DnsServers(SandboxId id, IEnumerable<string> servers)
    {
        foreach (var server in servers)
        {
            if (!IsNameserver(server))
            {
                throw IsolaException.InvalidArgument($"sandbox '{id}': DNS server '{server}' is not an IPv4 or IPv6 address");
            }
        }
    }
}
