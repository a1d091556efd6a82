using System.Globalization;
using Isola.Hosting;
using Microsoft.Extensions.Configuration;

namespace Isola.Bench;

/// <summary>
/// What Isola keeps running per pause pod, in memory (PSS, which splits shared pages among their users), with a shim
/// per pod and with one shared shim (ShimGrouping Runtime): N pods run at once through IsolaHost, then every shim of
/// the run and every pause are read from /proc/PID/smaps_rollup. Interleaved rounds, medians. Target (issue 14):
/// shim + pause PSS per pod &lt;= 300 KiB with a shared shim.
/// Usage: isola-bench shim-memory [N (20)] [rounds (3)].
/// </summary>
internal sealed class ShimMemoryBench : IBenchmark
{
    private const string CgroupParent = "/isola-bench-mem";
    private static readonly string[] Groupings = ["Pod", "Runtime"];

    public string Name => "shim-memory";

    public string Description => "PSS per pause pod (shims + pause), shim per pod vs one shared shim (<= 300 KiB shared)";

    public async Task<BenchResult> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var n = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 20;
        var rounds = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 3;
        var samples = Groupings.ToDictionary(g => g, _ => new List<Sample>());
        for (var round = 0; round < rounds; round++)
        {
            foreach (var grouping in Groupings)
            {
                samples[grouping].Add(await RoundAsync(grouping, n, round, cancellationToken));
            }
        }

        var metrics = new Dictionary<string, double> { ["pods"] = n, ["rounds"] = rounds };
        foreach (var (grouping, list) in samples)
        {
            var key = grouping == "Pod" ? "per_pod_shim" : "shared_shim";
            metrics[$"{key}_shims"] = BenchResult.Median([.. list.Select(s => (double)s.Shims)]);
            metrics[$"{key}_shim_pss_kib_per_pod"] = Math.Round(BenchResult.Median([.. list.Select(s => s.ShimPss / n)]), 1);
            metrics[$"{key}_shim_rss_kib_per_pod"] = Math.Round(BenchResult.Median([.. list.Select(s => s.ShimRss / n)]), 1);
            metrics[$"{key}_pause_pss_kib_per_pod"] = Math.Round(BenchResult.Median([.. list.Select(s => s.PausePss / n)]), 1);
            metrics[$"{key}_management_pss_kib_per_pod"] = Math.Round(BenchResult.Median([.. list.Select(s => (s.ShimPss + s.PausePss) / n)]), 1);
            // Wall time of the N pods at once (a side figure here: bench `shim` owns latency, with its floors).
            metrics[$"{key}_all_ready_ms"] = Math.Round(BenchResult.Median([.. list.Select(s => s.AllReadyMs)]), 1);
            metrics[$"{key}_all_removed_ms"] = Math.Round(BenchResult.Median([.. list.Select(s => s.AllRemovedMs)]), 1);
        }

        metrics["shared_over_per_pod_management_pss"] = Math.Round(metrics["shared_shim_management_pss_kib_per_pod"] / metrics["per_pod_shim_management_pss_kib_per_pod"], 3);
        return new BenchResult(Name, metrics,
        [
            $"{n} pods at once per round, {rounds} interleaved rounds; PSS/RSS from /proc/PID/smaps_rollup of every shim of the round's namespace and every /pause in {CgroupParent}",
            "management = the shims + the pause processes; the isola host process is not per pod and is not counted",
        ]);
    }

    private static async Task<Sample> RoundAsync(string grouping, int n, int round, CancellationToken cancellationToken)
    {
        var work = Path.Combine(Path.GetTempPath(), "isola-bench-mem-" + Guid.NewGuid().ToString("N")[..8]);
        var ns = $"isola-bench-mem-{grouping.ToLowerInvariant()}-{round}";
        var builder = IsolaHost.CreateBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Isola:Root"] = Path.Combine(work, "root"),
            ["Isola:PluginsDir"] = Path.Combine(AppContext.BaseDirectory, "plugins"),
            ["Isola:DefaultRuntime"] = "runc",
            ["Isola:Runtimes:runc:Controller"] = "shim",
            ["Isola:Runtimes:runc:Options:Namespace"] = ns,
            ["Isola:Runtimes:runc:Options:CgroupParent"] = CgroupParent,
            ["Isola:Runtimes:runc:Options:ShimGrouping"] = grouping,
        });
        Directory.CreateDirectory(work);
        try
        {
            await using var host = await builder.StartAsync(cancellationToken);
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var pods = await Task.WhenAll(Enumerable.Range(0, n).Select(_ => host.Sandboxes.RunAsync(new SandboxSpec(), cancellationToken)));
            var allReady = clock.Elapsed.TotalMilliseconds;
            var removed = false;
            try
            {
                await Task.Delay(500, cancellationToken); // past the start-up allocations
                var shims = Processes((argv0, cmdline) => Path.GetFileName(argv0).StartsWith("containerd-shim", StringComparison.Ordinal) &&
                                                          cmdline.Contains($" -namespace {ns} ", StringComparison.Ordinal));
                var pauses = Processes((argv0, _) => argv0 == "/pause", CgroupParent + "/");
                if (pauses.Count != n)
                {
                    throw new InvalidOperationException($"found {pauses.Count} pause processes in {CgroupParent}, expected {n}");
                }

                var (shimPss, shimRss, pausePss) = (shims.Sum(p => Rollup(p, "Pss:")), shims.Sum(p => Rollup(p, "Rss:")), pauses.Sum(p => Rollup(p, "Pss:")));
                clock.Restart();
                await Task.WhenAll(pods.Select(p => p.RemoveAsync(CancellationToken.None)));
                removed = true;
                return new Sample(shims.Count, shimPss, shimRss, pausePss, allReady, clock.Elapsed.TotalMilliseconds);
            }
            finally
            {
                if (!removed)
                {
                    await Task.WhenAll(pods.Select(p => p.RemoveAsync(CancellationToken.None)));
                }
            }
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    private static List<int> Processes(Func<string, string, bool> match, string? cgroupPrefix = null)
    {
        var found = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid))
            {
                continue;
            }

            try
            {
                var cmdline = File.ReadAllText(Path.Combine(dir, "cmdline")).Replace('\0', ' ');
                if (match(cmdline.Split(' ')[0], cmdline) &&
                    (cgroupPrefix is null || File.ReadAllText(Path.Combine(dir, "cgroup")).Contains(":" + cgroupPrefix, StringComparison.Ordinal)))
                {
                    found.Add(pid);
                }
            }
            catch (IOException)
            {
                // exited while we looked
            }
        }

        return found;
    }

    private static double Rollup(int pid, string field)
    {
        var line = File.ReadLines($"/proc/{pid}/smaps_rollup").First(l => l.StartsWith(field, StringComparison.Ordinal));
        return double.Parse(line[field.Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
    }

    private sealed record Sample(int Shims, double ShimPss, double ShimRss, double PausePss, double AllReadyMs, double AllRemovedMs);
}
