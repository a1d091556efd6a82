using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Isola.Hosting;
using Microsoft.Extensions.Configuration;

namespace Isola.Bench;

/// <summary>
/// Pause sandboxes on the real containerd-shim-runc-v2 + runc through IsolaHost: ready latency (RunAsync) and teardown
/// latency (RemoveAsync), median of N sequential and N concurrent, beside the floor measured in the same run on the
/// same pause bundle: <c>runc run -d</c> for ready, <c>runc kill KILL</c> + <c>runc delete --force</c> for teardown.
/// Targets: ready &lt;= 1.5x floor, teardown &lt;= 1.5x floor. Also the shim's RSS per pod.
/// Usage: isola-bench shim [N (20)].
/// </summary>
internal sealed class ShimBench : IBenchmark
{
    private const string Namespace = "isola-bench";
    private const string CgroupParent = "/isola-bench";

    public string Name => "shim";

    public string Description => "pause sandbox ready/teardown latency, seq and concurrent, vs runc run -d / kill+delete (<= 1.5x); shim RSS per pod";

    public async Task<BenchResult> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var n = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 20;
        var work = Path.Combine(Path.GetTempPath(), "isola-bench-shim-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(work);
        try
        {
            return await MeasureAsync(n, work, cancellationToken);
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    private async Task<BenchResult> MeasureAsync(int n, string work, CancellationToken cancellationToken)
    {
        var builder = IsolaHost.CreateBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Isola:Root"] = Path.Combine(work, "root"),
            ["Isola:PluginsDir"] = Path.Combine(AppContext.BaseDirectory, "plugins"),
            ["Isola:DefaultRuntime"] = "runc",
            ["Isola:Runtimes:runc:Controller"] = "shim",
            ["Isola:Runtimes:runc:Options:Namespace"] = Namespace,
            ["Isola:Runtimes:runc:Options:CgroupParent"] = CgroupParent,
        });
        var metrics = new Dictionary<string, double>();
        var notes = new List<string>();
        using var phases = new ActivityPhases("Isola.Plugins.Shim");
        using var concurrentPhases = new ActivityPhases("Isola.Plugins.Shim");
        var floorRoot = Path.Combine(work, "runc");
        await using (var host = await builder.StartAsync(cancellationToken))
        try
        {
            // Warm-up, and the pause bundle the floor runs: the very bundle the controller wrote, copied.
            var warm = await host.Sandboxes.RunAsync(new SandboxSpec(), cancellationToken);
            var floorBundle = CopyPauseBundle(Path.Combine(work, "root", warm.Id.Value, "pause", warm.Id.Value), Path.Combine(work, "floor-bundle"));
            await warm.RemoveAsync(cancellationToken);
            for (var i = 1; i < WarmUpPods; i++)
            {
                await (await host.Sandboxes.RunAsync(new SandboxSpec(), cancellationToken)).RemoveAsync(cancellationToken);
            }

            await using var raw = new RawShimPath(Path.Combine(work, "raw"), floorBundle, CgroupParent, Namespace + "-raw");
            for (var i = 0; i < WarmUpPods; i++)
            {
                await raw.StopAsync(await raw.StartAsync(raw.Prepare($"warm{i}")));
            }

            // Both floors' bundles are written before their clocks start (Isola's pause bundle is inside its own).
            var floorSeqBundles = Enumerable.Range(0, n).Select(i => PauseBundleFor(floorBundle, $"{floorBundle}-f{i}", $"{CgroupParent}/floor-f{i}")).ToList();
            var rawSeqBundles = Enumerable.Range(0, n).Select(i => raw.Prepare($"s{i}")).ToList();
            var cpu = new CpuMeter();
            var (floorReadySeq, floorDownSeq) = await SequentialAsync(n, i => RuncRunAsync(floorRoot, floorSeqBundles[i], $"f{i}"), id => RuncDeleteAsync(floorRoot, id));
            var floorCpu = cpu.Take();
            // runc create + runc start, the two invocations the shim path makes, without the shim.
            var twoStepBundles = Enumerable.Range(0, n).Select(i => PauseBundleFor(floorBundle, $"{floorBundle}-t{i}", $"{CgroupParent}/floor-t{i}")).ToList();
            var (twoStepSeq, _) = await SequentialAsync(n, i => RuncCreateStartAsync(floorRoot, twoStepBundles[i], $"t{i}"), id => RuncDeleteAsync(floorRoot, id));
            cpu.Take();
            var (rawReadySeq, rawDownSeq) = await SequentialAsync(n, i => raw.StartAsync(rawSeqBundles[i]), raw.StopAsync);
            var rawCpu = cpu.Take();
            phases.Recording = true; // the sequential pods; the concurrent ones are recorded apart (they mostly queue)
            var (readySeq, downSeq) = await SequentialAsync(n, _ => RunSandboxAsync(host, cancellationToken), s => s.RemoveAsync(cancellationToken));
            phases.Recording = false;
            var isolaCpu = cpu.Take();
            notes.Add(Breakdown("ready_seq", BenchResult.Median(readySeq), phases.Medians(ReadyPhases)));
            notes.Add(Breakdown("teardown_seq", BenchResult.Median(downSeq), phases.Medians(TeardownPhases)));
            var floorParBundles = Enumerable.Range(0, n).Select(i => PauseBundleFor(floorBundle, $"{floorBundle}-p{i}", $"{CgroupParent}/floor-p{i}")).ToList();
            var rawParBundles = Enumerable.Range(0, n).Select(i => raw.Prepare($"c{i}")).ToList();
            var (floorReadyPar, floorDownPar) = await ConcurrentAsync(n, i => RuncRunAsync(floorRoot, floorParBundles[i], $"p{i}"), id => RuncDeleteAsync(floorRoot, id));
            var (rawReadyPar, rawDownPar) = await ConcurrentAsync(n, i => raw.StartAsync(rawParBundles[i]), raw.StopAsync);

            // Concurrent pods, with every shim measured while all of them run.
            concurrentPhases.Recording = true;
            var started = await Task.WhenAll(Enumerable.Range(0, n).Select(_ => TimeAsync(() => RunSandboxAsync(host, cancellationToken))));
            var rss = started.Select(s => ShimRssKiB(s.Value.Id.Value)).Where(r => r > 0).ToList();
            var stopped = await Task.WhenAll(started.Select(s => TimeAsync(async () => { await s.Value.RemoveAsync(cancellationToken); return 0; })));
            var readyPar = started.Select(s => s.Ms).ToList();
            var downPar = stopped.Select(s => s.Ms).ToList();
            concurrentPhases.Recording = false;
            notes.Add(Breakdown("ready_concurrent", BenchResult.Median(readyPar), concurrentPhases.Medians(ReadyPhases)));
            notes.Add(Breakdown("teardown_concurrent", BenchResult.Median(downPar), concurrentPhases.Medians(TeardownPhases)));

            Put(metrics, "ready_seq", readySeq, floorReadySeq, rawReadySeq);
            Put(metrics, "teardown_seq", downSeq, floorDownSeq, rawDownSeq);
            Put(metrics, "ready_concurrent", readyPar, floorReadyPar, rawReadyPar);
            Put(metrics, "teardown_concurrent", downPar, floorDownPar, rawDownPar);
            metrics["ready_seq_runc_create_start_ms"] = Math.Round(BenchResult.Median(twoStepSeq), 2);
            metrics["ready_seq_runc_create_start_over_floor"] = Math.Round(BenchResult.Median(twoStepSeq) / BenchResult.Median(floorReadySeq), 3);
            metrics["cpu_ms_per_pod_seq"] = Math.Round(isolaCpu.Machine / n, 2);
            metrics["cpu_ms_per_pod_seq_floor"] = Math.Round(floorCpu.Machine / n, 2);
            metrics["cpu_ms_per_pod_seq_shim_floor"] = Math.Round(rawCpu.Machine / n, 2);
            metrics["cpu_ms_per_pod_seq_host_process"] = Math.Round(isolaCpu.Self / n, 2);
            metrics["cpu_ms_per_pod_seq_host_process_shim_floor"] = Math.Round(rawCpu.Self / n, 2);
            metrics["shim_rss_kib_per_pod_median"] = BenchResult.Median(rss);
            metrics["pods"] = n;
        }
        finally
        {
            // A run that failed part-way leaves nothing running: Isola's pods, then the runc floor's containers (the
            // raw path's pods are taken down by its DisposeAsync).
            foreach (var sandbox in await host.Sandboxes.ListAsync(CancellationToken.None))
            {
                await (await host.Sandboxes.GetAsync(sandbox.Id.Value, CancellationToken.None)).RemoveAsync(CancellationToken.None);
            }

            if (Directory.Exists(floorRoot))
            {
                foreach (var id in Directory.EnumerateDirectories(floorRoot).Select(Path.GetFileName))
                {
                    await RuncAsync(floorRoot, "delete", "--force", id!);
                }
            }
        }

        return new BenchResult(Name, metrics,
        [
            .. notes,
            "ready = IsolaHost RunAsync (record, pause bundle, shim start, Task Create+Start, pause catching SIGTERM); floor = runc run -d of the same bundle",
            "teardown = RemoveAsync (Stop: SIGTERM to a pause that exits at once, Task Delete, shim Shutdown, cgroup and bundle removal); floor = runc kill KILL + runc delete --force",
            "concurrent: all pods started at once, each pod's own latency; medians in ms; ratio = isola / floor",
            "shim RSS: VmRSS of each pod's containerd-shim-runc-v2 while all concurrent pods run",
        ]);
    }

    private const string SandboxIdAnnotation = "io.kubernetes.cri.sandbox-id";

    // Both paths run a few pods before measuring: the figures are a running host's, not the JIT's first calls.
    private const int WarmUpPods = 5;

    private static readonly string[] ReadyPhases =
        ["pause bundle", "shim start", "connect", "pause create", "pause start", "shim pid + pause SIGTERM handler"];

    private static readonly string[] TeardownPhases = ["stop tasks", "delete tasks", "shim shutdown + exit", "socket, log, cgroup, bundles"];

    // Median of each controller phase (from the plugin's activities); the rest of the median total is the host's own
    // work (records, locks, fsyncs) and the gaps between phases. Medians do not add up exactly: an approximation.
    private static string Breakdown(string name, double total, IReadOnlyList<(string Phase, double MedianMs)> phases)
    {
        var parts = string.Join(", ", phases.Select(p => $"{p.Phase} {p.MedianMs:F1}"));
        return $"{name} breakdown (medians, ms): total {total:F1} = {parts}, host and gaps {total - phases.Sum(p => p.MedianMs):F1}";
    }

    private static void Put(Dictionary<string, double> metrics, string name, IReadOnlyList<double> isola, IReadOnlyList<double> floor, IReadOnlyList<double> shimFloor)
    {
        var (m, f, s) = (BenchResult.Median(isola), BenchResult.Median(floor), BenchResult.Median(shimFloor));
        metrics[name + "_ms"] = Math.Round(m, 2);
        metrics[name + "_floor_ms"] = Math.Round(f, 2);
        metrics[name + "_ratio"] = Math.Round(m / f, 3);
        metrics[name + "_shim_floor_ms"] = Math.Round(s, 2);
        metrics[name + "_shim_floor_over_floor"] = Math.Round(s / f, 3);
        metrics[name + "_ratio_vs_shim_floor"] = Math.Round(m / s, 3);
    }

    private static async Task<ISandbox> RunSandboxAsync(IsolaHost host, CancellationToken ct) =>
        await host.Sandboxes.RunAsync(new SandboxSpec(), ct);

    private static async Task<(List<double> Up, List<double> Down)> SequentialAsync<T>(int n, Func<int, Task<T>> up, Func<T, Task> down)
    {
        var (ups, downs) = (new List<double>(), new List<double>());
        for (var i = 0; i < n; i++)
        {
            var started = await TimeAsync(() => up(i));
            ups.Add(started.Ms);
            downs.Add((await TimeAsync(async () => { await down(started.Value); return 0; })).Ms);
        }

        return (ups, downs);
    }

    private static async Task<(List<double> Up, List<double> Down)> ConcurrentAsync<T>(int n, Func<int, Task<T>> up, Func<T, Task> down)
    {
        var started = await Task.WhenAll(Enumerable.Range(0, n).Select(i => TimeAsync(() => up(i))));
        var stopped = await Task.WhenAll(started.Select(s => TimeAsync(async () => { await down(s.Value); return 0; })));
        return (started.Select(s => s.Ms).ToList(), stopped.Select(s => s.Ms).ToList());
    }

    private static async Task<(T Value, double Ms)> TimeAsync<T>(Func<Task<T>> action)
    {
        var sw = Stopwatch.StartNew();
        var value = await action();
        return (value, sw.Elapsed.TotalMilliseconds);
    }

    internal static string CopyPauseBundle(string from, string to)
    {
        Directory.CreateDirectory(Path.Combine(to, "rootfs", "proc"));
        File.Copy(Path.Combine(from, "rootfs", "pause"), Path.Combine(to, "rootfs", "pause"));
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(from, "config.json")))!;
        config["linux"]!["cgroupsPath"] = null; // set per pod by PauseBundleFor
        File.WriteAllText(Path.Combine(to, "config.json"), config.ToJsonString());
        return to;
    }

    /// <summary>A pod's own bundle made from the template: config.json with its cgroupsPath and a rootfs holding the
    /// pause binary. Its own rootfs, as Isola gives each pod: runc creates /dev entries in a rootfs while setting it up,
    /// so pods started at once from one shared rootfs would race there.</summary>
    internal static string PauseBundleFor(string template, string bundle, string cgroupsPath)
    {
        Directory.CreateDirectory(Path.Combine(bundle, "rootfs", "proc"));
        File.Copy(Path.Combine(template, "rootfs", "pause"), Path.Combine(bundle, "rootfs", "pause"));
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(template, "config.json")))!;
        config["linux"]!["cgroupsPath"] = cgroupsPath;
        // The runc shim groups containers into one shim by this annotation (its socket address is derived from it):
        // each pod its own, as Isola's pause bundles have, or pods started together would share shims.
        config["annotations"]![SandboxIdAnnotation] = Path.GetFileName(bundle);
        File.WriteAllText(Path.Combine(bundle, "config.json"), config.ToJsonString());
        return bundle;
    }

    // runc run -d reads config.json from the bundle: one bundle per id, written before the clock starts.
    private static async Task<string> RuncRunAsync(string root, string bundle, string id)
    {
        await RuncAsync(root, "run", "-d", "--bundle", bundle, id);
        return id;
    }

    private static async Task<string> RuncCreateStartAsync(string root, string bundle, string id)
    {
        await RuncAsync(root, "create", "--bundle", bundle, id);
        await RuncAsync(root, "start", id);
        return id;
    }

    private static async Task RuncDeleteAsync(string root, string id)
    {
        await RuncAsync(root, "kill", id, "KILL");
        await RuncAsync(root, "delete", "--force", id);
    }

    private static async Task RuncAsync(string root, params string[] args)
    {
        // A detached container inherits runc's stdout and stderr: capturing them for `run` or `create` would block until it exits.
        var capture = args[0] is not ("run" or "create");
        var psi = new ProcessStartInfo("runc") { RedirectStandardInput = true, RedirectStandardOutput = capture, RedirectStandardError = capture };
        psi.ArgumentList.Add("--root");
        psi.ArgumentList.Add(root);
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi)!;
        p.StandardInput.Close();
        var err = capture ? p.StandardError.ReadToEndAsync() : Task.FromResult("");
        var output = capture ? p.StandardOutput.ReadToEndAsync() : Task.FromResult("");
        await p.WaitForExitAsync();
        await output;
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"runc {string.Join(' ', args)} exited with {p.ExitCode}: {await err}");
        }
    }

    private static double ShimRssKiB(string sandboxId)
    {
        foreach (var proc in Directory.EnumerateDirectories("/proc").Where(d => int.TryParse(Path.GetFileName(d), out _)))
        {
            try
            {
                var cmdline = File.ReadAllText(Path.Combine(proc, "cmdline")).Replace('\0', ' ');
                if (cmdline.Contains("containerd-shim", StringComparison.Ordinal) && cmdline.Contains($"-id {sandboxId} ", StringComparison.Ordinal))
                {
                    var line = File.ReadLines(Path.Combine(proc, "status")).First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
                    return double.Parse(line[6..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
                }
            }
            catch (IOException)
            {
                // exited while we looked
            }
        }

        return 0;
    }
}
