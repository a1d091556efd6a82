using static Isola.Bench.IsolaCommand;

namespace Isola.Bench;

/// <summary>
/// What a user typing commands waits for on the shim runtime: <c>isola sandbox run</c> and <c>isola sandbox rm</c> of
/// a pause pod, each a fresh process, interleaved with <c>isola version</c> (the process-start floor) in the same run.
/// Reports medians and each command's time above the floor. The rm figure is the reliability issue's: a shim that waits
/// on the events endpoint of the long-gone process that started it held every rm for seconds.
/// Args: [--runs N] (default 20).
/// </summary>
internal sealed class CliPodBench : IBenchmark
{
    public string Name => "cli-pod";

    public string Description => "isola sandbox run / sandbox rm (shim runtime, fresh process each) vs `isola version`, medians";

    public async Task<BenchResult> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var runs = IntArg(args, "--runs", 20);
        var isola = Find();
        var work = Path.Combine(Path.GetTempPath(), "isola-bench-cli-" + Guid.NewGuid().ToString("N")[..12]);
        var env = new Dictionary<string, string>
        {
            ["ISOLA__ROOT"] = Path.Combine(work, "root"),
            ["ISOLA__PLUGINSDIR"] = Path.Combine(Path.GetDirectoryName(isola)!, "plugins"),
        };
        var (floor, run, rm) = (new List<double>(), new List<double>(), new List<double>());
        try
        {
            // Warm-up: the OS file cache, the first shim and runc exec.
            await TimeAsync(isola, ["version"], env, cancellationToken);
            await TimeAsync(isola, ["sandbox", "run", "--id", "warm"], env, cancellationToken);
            await TimeAsync(isola, ["sandbox", "rm", "warm"], env, cancellationToken);
            var loadBefore = LoadAverage();
            for (var i = 0; i < runs; i++)
            {
                var id = $"bench{i}";
                floor.Add(await TimeAsync(isola, ["version"], env, cancellationToken));
                run.Add(await TimeAsync(isola, ["sandbox", "run", "--id", id], env, cancellationToken));
                rm.Add(await TimeAsync(isola, ["sandbox", "rm", id], env, cancellationToken));
            }

            var (floorMs, runMs, rmMs) = (BenchResult.Median(floor), BenchResult.Median(run), BenchResult.Median(rm));
            return new BenchResult(Name, new Dictionary<string, double>
            {
                ["floor_isola_version_ms"] = floorMs,
                ["sandbox_run_ms"] = runMs,
                ["sandbox_rm_ms"] = rmMs,
                ["sandbox_run_over_floor_ms"] = runMs - floorMs,
                ["sandbox_rm_over_floor_ms"] = rmMs - floorMs,
                ["sandbox_rm_max_ms"] = rm.Max(),
            },
            [
                $"medians of {runs} interleaved rounds (version, sandbox run, sandbox rm), each a fresh `dotnet {isola}` process",
                "runtime: the default runc -> shim (containerd-shim-runc-v2 + runc), each pod in a new network namespace",
                $"1-minute load average before / after: {loadBefore} / {LoadAverage()}",
            ]);
        }
        finally
        {
            try
            {
                foreach (var id in Enumerable.Range(0, runs).Select(i => $"bench{i}").Append("warm"))
                {
                    if (Directory.Exists(Path.Combine(work, "root", id)))
                    {
                        await TimeAsync(isola, ["sandbox", "rm", id], env, CancellationToken.None);
                    }
                }
            }
            finally
            {
                Directory.Delete(work, recursive: true);
            }
        }
    }
}
