using Isola.TestSupport;
using static Isola.Bench.IsolaCommand;

namespace Isola.Bench;

/// <summary>
/// <c>isola run</c> of hello-sandbox.csx with its sandbox work taken out (same #load, same rootfs helper, no pod):
/// cold (compile) and cached, each a fresh <c>isola</c> process, beside <c>isola version</c> as the process-start
/// floor, interleaved in the same run. Target: cached at most 100 ms above the floor. <c>isola sandbox ls</c> on an
/// empty root is measured too: it starts the same host (configuration, plugin loading) without a script, which
/// separates the scripting cost from the host's start-up cost.
/// Args: [--runs N] [--cold-runs N] [--plugins DIR] (default: the isola build's own plugins folder).
/// </summary>
internal sealed class ScriptBench : IBenchmark
{
    private const double TargetOverFloorMs = 100;

    public string Name => "script";

    public string Description => "isola run hello-sandbox.csx (no sandbox): cold compile and cached run vs `isola version`; target cached <= floor + 100 ms";

    public async Task<BenchResult> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var runs = IntArg(args, "--runs", 21);
        var coldRuns = IntArg(args, "--cold-runs", 3);
        var isola = Find();
        var plugins = StringArg(args, "--plugins") ?? Path.Combine(Path.GetDirectoryName(isola)!, "plugins");
        var work = Path.Combine(Path.GetTempPath(), "isola-bench-script-" + Guid.NewGuid().ToString("N"));
        try
        {
            var script = WriteScript(work);
            var env = new Dictionary<string, string>
            {
                ["XDG_CACHE_HOME"] = Path.Combine(work, "cache"),
                ["ISOLA__ROOT"] = Path.Combine(work, "root"),
                ["ISOLA__PLUGINSDIR"] = plugins,
            };
            string[] run = ["run", script], version = ["version"], list = ["sandbox", "ls"];

            var cold = new List<double>();
            for (var i = 0; i < coldRuns; i++)
            {
                if (Directory.Exists(env["XDG_CACHE_HOME"]))
                {
                    Directory.Delete(env["XDG_CACHE_HOME"], recursive: true);
                }

                cold.Add(await TimeAsync(isola, run, env, cancellationToken));
            }

            await TimeAsync(isola, version, env, cancellationToken); // warm the OS file cache for both
            var loadBefore = LoadAverage();
            var floor = new List<double>();
            var hostStart = new List<double>();
            var cached = new List<double>();
            for (var i = 0; i < runs; i++)
            {
                floor.Add(await TimeAsync(isola, version, env, cancellationToken));
                hostStart.Add(await TimeAsync(isola, list, env, cancellationToken));
                cached.Add(await TimeAsync(isola, run, env, cancellationToken));
            }

            var (floorMs, hostMs, cachedMs) = (BenchResult.Median(floor), BenchResult.Median(hostStart), BenchResult.Median(cached));
            return new BenchResult(Name, new Dictionary<string, double>
            {
                ["floor_isola_version_ms"] = floorMs,
                ["cold_run_ms"] = BenchResult.Median(cold),
                ["cached_run_ms"] = cachedMs,
                ["cached_over_floor_ms"] = cachedMs - floorMs,
                ["host_start_isola_sandbox_ls_ms"] = hostMs,
                ["cached_over_host_start_ms"] = cachedMs - hostMs,
                ["target_over_floor_ms"] = TargetOverFloorMs,
            },
            [
                $"medians of {runs} interleaved process runs (cold: {coldRuns}, cache emptied before each)",
                $"plugins: {plugins}",
                "isola sandbox ls (an empty root) starts the same host, plugins included: the part of a cached run that is not scripting",
                $"1-minute load average before / after the interleaved runs: {loadBefore} / {LoadAverage()} (other work on the machine inflates all three)",
                cachedMs - floorMs <= TargetOverFloorMs ? "target met" : "TARGET MISSED",
            ]);
        }
        finally
        {
            if (Directory.Exists(work))
            {
                Directory.Delete(work, recursive: true);
            }
        }
    }

    /// <summary>hello-sandbox.csx minus the sandbox: the same #load and rootfs helper, so compile and load cost match.</summary>
    private static string WriteScript(string work)
    {
        var examples = RepoPaths.Examples;
        Directory.CreateDirectory(Path.Combine(work, "lib"));
        File.Copy(Path.Combine(examples, "lib", "busybox.csx"), Path.Combine(work, "lib", "busybox.csx"));
        var script = Path.Combine(work, "hello-nosandbox.csx");
        File.WriteAllText(script, """
            #load "lib/busybox.csx"
            var rootfs = Using(BusyboxRootfs.Create());
            Log.LogDebug("rootfs {Path} ready; the sandbox would start here", rootfs.Path);
            return 0;
            """);
        return script;
    }
}
