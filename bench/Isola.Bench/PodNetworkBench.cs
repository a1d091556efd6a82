using System.Diagnostics;
using Isola.Hosting;
using Isola.TestSupport;
using Microsoft.Extensions.Configuration;

namespace Isola.Bench;

/// <summary>
/// A pause pod's ready latency on a CNI pod network (namespace, bridge, host-local, portmap) against the same pod on
/// the host's network, in-process, interleaved, each pod removed before the next; the difference is what the pod
/// network costs (CNI ADD) and the remove column what DEL costs.
/// </summary>
internal sealed class PodNetworkBench : IBenchmark
{
    public string Name => "pod-network";

    public string Description => "pause pod ready and removed on a CNI pod network vs on the host network, median of N (default 15)";

    public async Task<BenchResult> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        Peers.RequireShimAndBusybox();
        Peers.Require(("bridge", "containernetworking-plugins"), ("ip", "iproute2"), ("iptables", "iptables"));
        var runs = args.Length > 0 && int.TryParse(args[0], out var n) && n > 0 ? n : 15;
        var work = Path.Combine(Path.GetTempPath(), "isola-bench-net-" + Guid.NewGuid().ToString("N")[..8]);
        var bridge = "isolb" + Guid.NewGuid().ToString("N")[..6];
        Directory.CreateDirectory(Path.Combine(work, "net.d"));
        File.WriteAllText(Path.Combine(work, "net.d", "bench.conflist"), $$"""
            { "cniVersion": "1.0.0", "name": "bench", "plugins": [
              { "type": "bridge", "bridge": "{{bridge}}", "isGateway": true, "ipMasq": true,
                "ipam": { "type": "host-local", "dataDir": "{{Path.Combine(work, "ipam")}}", "ranges": [[{ "subnet": "10.199.77.0/24" }]], "routes": [{ "dst": "0.0.0.0/0" }] } },
              { "type": "portmap", "capabilities": { "portMappings": true }, "snat": true } ] }
            """);
        var builder = IsolaHost.CreateBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Isola:Root"] = Path.Combine(work, "root"),
            ["Isola:PluginsDir"] = Path.Combine(AppContext.BaseDirectory, "plugins"),
            ["Isola:DefaultRuntime"] = "runc",
            ["Isola:Runtimes:runc:Controller"] = "shim",
            ["Isola:Runtimes:runc:Options:CgroupParent"] = "/isola-bench-net",
            ["Isola:Networks:ConfigDir"] = Path.Combine(work, "net.d"),
            ["Isola:Networks:Default"] = "bench",
        });
        try
        {
            await using var host = await builder.StartAsync(cancellationToken);
            var hostReady = new List<double>();
            var podReady = new List<double>();
            var hostRemove = new List<double>();
            var podRemove = new List<double>();
            await OneAsync(host, SandboxSpec.HostNetwork, cancellationToken); // warm-up
            await OneAsync(host, SandboxSpec.PodNetwork, cancellationToken);
            for (var i = 0; i < runs; i++)
            {
                var (r, d) = await OneAsync(host, SandboxSpec.HostNetwork, cancellationToken);
                hostReady.Add(r);
                hostRemove.Add(d);
                (r, d) = await OneAsync(host, SandboxSpec.PodNetwork, cancellationToken);
                podReady.Add(r);
                podRemove.Add(d);
            }

            var (hr, pr) = (BenchResult.Median(hostReady), BenchResult.Median(podReady));
            return new BenchResult(Name, new Dictionary<string, double>
            {
                ["host_network_ready_ms_median"] = hr,
                ["pod_network_ready_ms_median"] = pr,
                ["pod_network_ready_ratio"] = pr / hr,
                ["pod_network_over_host_ms"] = pr - hr,
                ["host_network_remove_ms_median"] = BenchResult.Median(hostRemove),
                ["pod_network_remove_ms_median"] = BenchResult.Median(podRemove),
                ["runs"] = runs,
            }, [
                "in-process ISandboxes.RunAsync (ready) and RemoveAsync of a pause pod (shim + runc), --network host vs --network pod (bridge, host-local, portmap from Debian's containernetworking-plugins, one published port), interleaved",
                "samples host ready ms: " + Join(hostReady),
                "samples pod-network ready ms: " + Join(podReady),
                "samples host remove ms: " + Join(hostRemove),
                "samples pod-network remove ms: " + Join(podRemove),
            ]);
        }
        finally
        {
            Processes.TryRun("ip", "link", "delete", bridge);
            Directory.Delete(work, true);
        }
    }

    private static async Task<(double Ready, double Remove)> OneAsync(IsolaHost host, string network, CancellationToken cancellationToken)
    {
        var spec = new SandboxSpec
        {
            Network = network,
            Ports = network == SandboxSpec.PodNetwork ? [new PortMapping(30000 + Random.Shared.Next(20000), 80)] : [],
        };
        var clock = Stopwatch.StartNew();
        var sandbox = await host.Sandboxes.RunAsync(spec, cancellationToken);
        var ready = clock.Elapsed.TotalMilliseconds;
        clock.Restart();
        await sandbox.RemoveAsync(cancellationToken);
        return (ready, clock.Elapsed.TotalMilliseconds);
    }

    private static string Join(IEnumerable<double> samples) => string.Join(", ", samples.Select(x => x.ToString("0", System.Globalization.CultureInfo.InvariantCulture)));
}
