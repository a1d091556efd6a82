using System.Net;
using System.Net.Sockets;

namespace Isola.Hosting.Sandboxes;

/// <summary>Rules on sandbox spec values that every entrance (API, command line, isola serve) shares.</summary>
internal static class SpecChecks
{
    /// <summary>True for what resolv.conf's nameserver takes: an IPv4 dotted quad or an IPv6 address. IPAddress.TryParse
    /// alone also takes "10" or "10.1" (inet_aton forms) that nobody means as a nameserver.</summary>
    public static bool IsNameserver(string value) =>
        IPAddress.TryParse(value, out var address) &&
        (address.AddressFamily == AddressFamily.InterNetworkV6 ? value.Contains(':') : value.Count(c => c == '.') == 3);

    /// <summary>Throws InvalidArgument naming the sandbox and the value when a DNS server is not an IP address.</summary>
    public static void DnsServers(string id, IEnumerable<string> servers)
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
