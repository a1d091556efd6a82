using System.Diagnostics;
using Isola.TestSupport;
using static Isola.Bench.IsolaCommand;

namespace Isola.Bench;

/// <summary>
/// What a user typing commands waits for, each command a fresh process of the published <c>isola</c> (scripts/publish:
/// Release, ReadyToRun, apphost), interleaved round by round: a hello-world .NET program published the same way (the
/// floor of <c>isola version</c>), <c>isola version</c>, <c>isola sandbox run</c> of a pause pod on the default shim
/// runtime, <c>isola container run --rm</c> of <c>true</c> in it, and <c>isola sandbox rm</c>. Beside them, in the same
/// rounds, the runtime's own floor for a pod: containerd-shim-runc-v2 started and the pause task created and started
/// (then deleted and the shim shut down) over raw ttrpc, from the very bundle isola wrote, with no isola process at all.
/// Targets (issue 14): version within 20 ms of hello-world, sandbox run &lt;= 300 ms, sandbox rm &lt;= 200 ms.
/// Args: [--runs N] (default 20) [--isola PATH] (another build to measure, e.g. src/Cli/bin/Debug/net10.0/isola.dll).
/// </summary>
internal sealed class CliPodBench : IBenchmark
{
    private const double VersionOverHelloTargetMs = 20;
    private const double SandboxRunTargetMs = 300;
    private const double SandboxRmTargetMs = 200;

    // The rows that are one process of this benchmark's, whose CPU time is counted too.
    private static readonly string[] Commands = ["hello_world", "isola_version", "sandbox_run", "container_run", "sandbox_rm"];

    public string Name => "cli-pod";

    public string Description =>
        "isola version / sandbox run / container run / sandbox rm as fresh processes, vs hello-world and the raw shim pod; targets version <= hello + 20 ms, run <= 300 ms, rm <= 200 ms";

    public async Task<BenchResult> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var runs = IntArg(args, "--runs", 20);
        var isola = StringArg(args, "--isola") is { } other ? Path.GetFullPath(other) : Find();
        var hello = Published("bench/HelloWorld/HelloWorld.csproj", Path.Combine("bench", "hello-world"), "hello-world");
        var work = Path.Combine(Path.GetTempPath(), "isola-bench-cli-" + Guid.NewGuid().ToString("N")[..12]);
        var env = new Dictionary<string, string>
        {
            ["ISOLA__ROOT"] = Path.Combine(work, "root"),
            ["ISOLA__PLUGINSDIR"] = Path.Combine(Path.GetDirectoryName(isola)!, "plugins"),
        };
        var rows = new[] { "hello_world", "isola_version", "sandbox_run", "container_run", "sandbox_rm", "floor_shim_pod_ready", "floor_shim_pod_teardown" }
            .ToDictionary(r => r, _ => new List<double>());
        var cpu = Commands.ToDictionary(r => r, _ => new List<double>());
        var created = new List<string>();
        try
        {
            var rootfs = TestRootfs.Make(Path.Combine(work, "rootfs"));
            // Warm-up: the OS file cache, the first shim and runc exec; and the pause bundle the floor starts from.
            await TimeAsync(hello, [], env, cancellationToken);
            await TimeAsync(isola, ["version"], env, cancellationToken);
            created.Add("warm");
            await TimeAsync(isola, ["sandbox", "run", "--id", "warm"], env, cancellationToken);
            await TimeAsync(isola, ["container", "run", "warm", "--rootfs", rootfs, "--rm", "--", "true"], env, cancellationToken);
            var template = ShimBench.CopyPauseBundle(Path.Combine(work, "root", "warm", "pause", "warm"), Path.Combine(work, "floor-bundle"));
            await TimeAsync(isola, ["sandbox", "rm", "warm"], env, cancellationToken);
            await using var raw = new RawShimPath(Path.Combine(work, "raw"), template, "/isola-bench-cli", "isola-bench-cli-raw");
            await raw.StopAsync(await raw.StartAsync(raw.Prepare("warm")));

            var loadBefore = LoadAverage();
            for (var i = 0; i < runs; i++)
            {
                var id = $"bench{i}";
                await MeasureAsync(rows, cpu, "hello_world", () => TimeAsync(hello, [], env, cancellationToken));
                await MeasureAsync(rows, cpu, "isola_version", () => TimeAsync(isola, ["version"], env, cancellationToken));
                created.Add(id);
                await MeasureAsync(rows, cpu, "sandbox_run", () => TimeAsync(isola, ["sandbox", "run", "--id", id], env, cancellationToken));
                await MeasureAsync(rows, cpu, "container_run", () => TimeAsync(isola, ["container", "run", id, "--rootfs", rootfs, "--rm", "--", "true"], env, cancellationToken));
                await MeasureAsync(rows, cpu, "sandbox_rm", () => TimeAsync(isola, ["sandbox", "rm", id], env, cancellationToken));
                var bundle = raw.Prepare($"raw{i}");
                var clock = Stopwatch.StartNew();
                var pod = await raw.StartAsync(bundle);
                rows["floor_shim_pod_ready"].Add(clock.Elapsed.TotalMilliseconds);
                clock.Restart();
                await raw.StopAsync(pod);
                rows["floor_shim_pod_teardown"].Add(clock.Elapsed.TotalMilliseconds);
            }

            return Report(runs, isola, hello, rows, cpu, loadBefore);
        }
        finally
        {
            await CleanUpAsync(isola, env, created, work);
        }
    }

    private static async Task MeasureAsync(Dictionary<string, List<double>> rows, Dictionary<string, List<double>> cpu, string row, Func<Task<double>> command)
    {
        var before = ChildCpu.TotalMs();
        rows[row].Add(await command());
        cpu[row].Add(ChildCpu.TotalMs() - before);
    }

    private BenchResult Report(int runs, string isola, string hello, Dictionary<string, List<double>> rows, Dictionary<string, List<double>> cpu, string loadBefore)
    {
        var m = rows.ToDictionary(r => r.Key + "_ms", r => BenchResult.Median(r.Value));
        var c = cpu.ToDictionary(r => r.Key + "_cpu_ms", r => BenchResult.Median(r.Value));
        var metrics = new Dictionary<string, double>(m.Concat(c))
        {
            ["isola_version_over_hello_world_ms"] = m["isola_version_ms"] - m["hello_world_ms"],
            ["sandbox_run_over_target"] = m["sandbox_run_ms"] / SandboxRunTargetMs,
            ["sandbox_rm_over_target"] = m["sandbox_rm_ms"] / SandboxRmTargetMs,
            ["sandbox_run_over_shim_floor_ms"] = m["sandbox_run_ms"] - m["floor_shim_pod_ready_ms"],
            ["sandbox_rm_over_shim_floor_ms"] = m["sandbox_rm_ms"] - m["floor_shim_pod_teardown_ms"],
            ["sandbox_run_max_ms"] = rows["sandbox_run"].Max(),
            ["sandbox_rm_max_ms"] = rows["sandbox_rm"].Max(),
        };
        var isolaBuild = BuildInfo.Describe(isola.EndsWith(".dll", StringComparison.Ordinal) ? isola : isola + ".dll");
        var helloBuild = BuildInfo.Describe(hello + ".dll");
        Console.WriteLine($"cli-pod: medians of {runs} interleaved rounds; isola: {isolaBuild} ({isola}); hello-world: {helloBuild}");
        Console.WriteLine($"  {"row",-26} {"median ms",10} {"cpu ms",8}  against");
        Console.WriteLine($"  {"hello-world",-26} {m["hello_world_ms"],10:F1} {c["hello_world_cpu_ms"],8:F0}  (floor of version)");
        Console.WriteLine($"  {"isola version",-26} {m["isola_version_ms"],10:F1} {c["isola_version_cpu_ms"],8:F0}  {Verdict(m["isola_version_ms"] - m["hello_world_ms"], VersionOverHelloTargetMs, " above hello-world")}");
        Console.WriteLine($"  {"isola sandbox run",-26} {m["sandbox_run_ms"],10:F1} {c["sandbox_run_cpu_ms"],8:F0}  {Verdict(m["sandbox_run_ms"], SandboxRunTargetMs, "")}; raw shim pod ready {m["floor_shim_pod_ready_ms"]:F1}");
        Console.WriteLine($"  {"isola container run --rm",-26} {m["container_run_ms"],10:F1} {c["container_run_cpu_ms"],8:F0}  (no target)");
        Console.WriteLine($"  {"isola sandbox rm",-26} {m["sandbox_rm_ms"],10:F1} {c["sandbox_rm_cpu_ms"],8:F0}  {Verdict(m["sandbox_rm_ms"], SandboxRmTargetMs, "")}; raw shim pod teardown {m["floor_shim_pod_teardown_ms"]:F1}");
        return new BenchResult(Name, metrics,
        [
            $"build: isola {isolaBuild}, run as {(isola.EndsWith(".dll", StringComparison.Ordinal) ? "dotnet " : "")}{Path.GetRelativePath(RepoPaths.Root, isola)}; hello-world {helloBuild}, published by the same scripts/publish",
            $"medians of {runs} interleaved rounds (hello-world, version, sandbox run, container run --rm true, sandbox rm, raw shim pod up and down), each command a fresh process",
            "runtime: the default runc -> shim (containerd-shim-runc-v2 + runc), each pod in a new network namespace; the floor is the same shim and pause bundle driven over raw ttrpc by this process",
            "cpu ms: user + system time of the command's own process (getrusage of reaped children), which the machine's load does not inflate; the daemonised shim and runc are not in it",
            $"targets: version <= hello-world + {VersionOverHelloTargetMs} ms, sandbox run <= {SandboxRunTargetMs} ms, sandbox rm <= {SandboxRmTargetMs} ms",
            $"1-minute load average before / after: {loadBefore} / {LoadAverage()}",
        ]);
    }

    private static string Verdict(double value, double target, string what) =>
        $"{value:F1} ms{what} vs target {target} ms: {(value <= target ? "met" : $"missed by {value - target:F1} ms")} (x{value / target:F2})";

    private static async Task CleanUpAsync(string isola, Dictionary<string, string> env, List<string> created, string work)
    {
        try
        {
            foreach (var id in created)
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
