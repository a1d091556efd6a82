using System.Diagnostics;
using Isola.Hosting.Networks;
using Isola.TestSupport;
using Microsoft.Extensions.Logging.Abstractions;

namespace Isola.Hosting.Tests.Networks;

/// <summary>
/// A test's own CNI network (a bridge and a /24 no other test uses) over Debian's real plugins, the state root its
/// records go in, and what a test needs to look at the result: commands inside a namespace, the bridge's ports,
/// iptables rules, host-local's allocations. Disposing removes the bridge, which CNI itself never does.
/// </summary>
internal sealed class CniWorld : IDisposable
{
    public CniWorld()
    {
        Peers.Require(("bridge", "containernetworking-plugins"), ("ip", "iproute2"), ("iptables", "iptables"), ("busybox", "busybox-static"));
        var tag = Guid.NewGuid().ToString("N")[..6];
        Bridge = "isolt" + tag;
        Subnet = $"10.{200 + Random.Shared.Next(50)}.{Random.Shared.Next(256)}";
        Root = Path.Combine(Path.GetTempPath(), "isola-cni-" + tag);
        ConfigDir = Path.Combine(Root, "net.d");
        IpamDir = Path.Combine(Root, "ipam");
        Directory.CreateDirectory(ConfigDir);
        File.WriteAllText(Path.Combine(ConfigDir, "10-test.conflist"), $$"""
            {
              "cniVersion": "1.0.0",
              "name": "{{Network}}",
              "plugins": [
                { "type": "bridge", "bridge": "{{Bridge}}", "isGateway": true, "ipMasq": true, "hairpinMode": true,
                  "ipam": { "type": "host-local", "dataDir": "{{IpamDir}}", "ranges": [[{ "subnet": "{{Subnet}}.0/24" }]], "routes": [{ "dst": "0.0.0.0/0" }] } },
                { "type": "portmap", "capabilities": { "portMappings": true }, "snat": true }
              ]
            }
            """);
        Networks = Open();
    }

    public const string Network = "isola-test";

    public string Bridge { get; }

    public string Subnet { get; }

    public string Root { get; }

    public string ConfigDir { get; }

    public string IpamDir { get; }

    public PodNetworks Networks { get; }

    /// <summary>A second instance over the same state, as a host after a restart sees it.</summary>
    public PodNetworks Open() =>
        new(Root, new NetworkSettings(ConfigDir, ["/usr/lib/cni"], Network), NullLogger.Instance);

    public static string Run(string file, params string[] args) => Processes.Run(file, args);

    /// <summary>busybox httpd serving one file, <c>/hello</c>, in a pod's namespace until disposed.</summary>
    public Process Serve(SandboxId sandboxId, int port, string body)
    {
        var www = Path.Combine(Root, "www-" + sandboxId.Value);
        Directory.CreateDirectory(www);
        File.WriteAllText(Path.Combine(www, "hello"), body);
        var p = Process.Start(new ProcessStartInfo("ip", ["netns", "exec", Networks.NamespaceName(sandboxId), "busybox", "httpd", "-f", "-p", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-h", www])
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        })!;
        Thread.Sleep(300);
        return p;
    }

    /// <summary>GETs a URL with busybox wget, from inside a pod's namespace or (null) from the host. (This busybox's
    /// wget crashes with its own -T timeout, so coreutils' timeout bounds it.)</summary>
    public string Fetch(SandboxId? sandboxId, string url) => sandboxId is null
        ? Run("timeout", "10", "busybox", "wget", "-q", "-O", "-", url)
        : Run("timeout", "10", "ip", "netns", "exec", Networks.NamespaceName(sandboxId.Value), "busybox", "wget", "-q", "-O", "-", url);

    /// <summary>Interfaces attached to the test bridge (each pod's host-side veth).</summary>
    public IReadOnlyList<string> BridgePorts() =>
        [.. Run("ip", "-o", "link", "show", "master", Bridge).Split('\n', StringSplitOptions.RemoveEmptyEntries)];

    /// <summary>iptables rules (nat and filter) that mention <paramref name="text"/>.</summary>
    public static IReadOnlyList<string> RulesMentioning(string text) =>
        [.. (Run("iptables-save", "-t", "nat") + Run("iptables-save", "-t", "filter")).Split('\n').Where(l => l.Contains(text, StringComparison.Ordinal))];

    /// <summary>host-local's allocation files naming <paramref name="sandboxId"/>.</summary>
    public IReadOnlyList<string> Allocations(string sandboxId) =>
        Directory.Exists(IpamDir)
            ? [.. Directory.EnumerateFiles(IpamDir, "*", SearchOption.AllDirectories).Where(f => File.ReadAllText(f).Contains(sandboxId, StringComparison.Ordinal))]
            : [];

    public void Dispose()
    {
        try
        {
            Run("ip", "link", "delete", Bridge);
        }
        catch (InvalidOperationException)
        {
            // No pod ever made it.
        }

        Directory.Delete(Root, recursive: true);
    }
}
