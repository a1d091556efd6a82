using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Isola.Hosting;
using Isola.TestSupport;
using Microsoft.Extensions.Configuration;

namespace Isola.Bench;

/// <summary>
/// A VM sandbox to Ready, and Ready to a container's exit, each against a floor measured in the same run:
/// <list type="bullet">
/// <item>boot floor: Isola's own QEMU command line started by hand, timed until isola-agent prints its ready line;</item>
/// <item>container floor: <c>runc run</c> of the same bundle — the config.json Isola wrote and a copy of the busybox
/// rootfs, placed where Isola places it (the virtiofs share, /run/kuasar/state/&lt;id&gt; in the guest) — run inside the
/// same guest by a /bench/run hook packed into a second initramfs archive appended to the guest's, timed on the host's
/// clock between two console markers around it (<see cref="ConsoleClock"/>: the guest's clock runs fast under TCG).</item>
/// </list>
/// Each VM runs <see cref="PerVm"/> containers in a row, on both sides, so the first (QEMU has not yet translated
/// runc's code) and the later ones are compared like for like. Runs alternate (floors, Isola, floors, ...) so drift
/// hits both alike. Also reports the agent's RSS in the guest (its console line after a host session) and the
/// initramfs size.
/// </summary>
internal sealed partial class VmContainerBench : IBenchmark
{
    private const string Runtime = "qemu-vm";
    private const string AgentReady = "ISOLA-AGENT-READY";
    private const string RuncDone = "ISOLA-BENCH-DONE";
    private const int PerVm = 3;

    public string Name => "vm-container";

    public string Description => "VM sandbox to Ready and Ready to a container's exit (QEMU microvm, TCG, isola-agent) vs the bare boot and runc run in the guest, median of N (default 5); target <= 1.10";

    public async Task<BenchResult> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var runs = args.Length > 0 && int.TryParse(args[0], out var n) && n > 0 ? n : 5;
        var root = Path.Combine(Path.GetTempPath(), "isola-bench-vmc-" + Guid.NewGuid().ToString("N")[..8]);
        var plugins = root + "-plugins";
        var work = root + "-work";
        try
        {
            var rootfs = TestRootfs.Make(Path.Combine(work, "rootfs"));
            var builder = IsolaHost.CreateBuilder();
            builder.Configuration.AddInMemoryCollection(VmBench.Configuration(root, plugins, "agent", ["Isola.Plugins.StratoVirt", "Isola.Plugins.TaskApi"]));
            await using var host = await builder.StartAsync(cancellationToken);

            // A warm-up run gives the exact QEMU command line and the container's config.json for the floors.
            var warmUp = await IsolaRunAsync(host, root, rootfs, captureConfig: true, cancellationToken);
            var argv = warmUp.Argv;
            var (cid, config) = warmUp.Config!.Value;
            var benchInitrd = BuildBenchInitrd(argv, cid, work);
            var runcArgv = argv.Select(a => a == ValueAfter(argv, "-initrd") ? benchInitrd : a).ToList();
            void PlaceBundle(string shared)
            {
                Directory.CreateDirectory(Path.Combine(shared, cid));
                File.WriteAllText(Path.Combine(shared, cid, "config.json"), config);
                CopyTree(rootfs, Path.Combine(shared, cid, "rootfs"));
            }

            var bareBoot = new List<double>();
            var ready = new List<double>();
            var runcFloor = Enumerable.Range(0, PerVm).Select(_ => new List<double>()).ToArray();
            var container = Enumerable.Range(0, PerVm).Select(_ => new List<double>()).ToArray();
            var rss = new List<double>();
            var markers = Enumerable.Range(1, PerVm).SelectMany(k => new[] { Begin(k), End(k) }).ToArray();
            for (var i = 0; i < runs; i++)
            {
                bareBoot.Add(await VmBench.BareBootAsync(argv, Path.Combine(work, "bare"), AgentReady, cancellationToken));
                using (var clock = new ConsoleClock(markers))
                {
                    var dir = Path.Combine(work, "runc");
                    await VmBench.BareBootAsync(runcArgv, dir, RuncDone, cancellationToken, clock, PlaceBundle);
                    CheckRuncExits(await File.ReadAllTextAsync(Path.Combine(dir, "console.log"), cancellationToken));
                    for (var k = 0; k < PerVm; k++)
                    {
                        runcFloor[k].Add(clock.Between(Begin(k + 1), End(k + 1)) ?? throw new InvalidOperationException($"the runc floor's console markers for run {k + 1} were not seen"));
                    }
                }

                var run = await IsolaRunAsync(host, root, rootfs, captureConfig: false, cancellationToken);
                ready.Add(run.Ready);
                for (var k = 0; k < PerVm; k++)
                {
                    container[k].Add(run.Containers[k]);
                }

                rss.Add(run.RssKb);
            }

            var bootMedian = BenchResult.Median(bareBoot);
            var readyMedian = BenchResult.Median(ready);
            var runcMedian = BenchResult.Median([.. runcFloor.SelectMany(x => x)]);
            var containerMedian = BenchResult.Median([.. container.SelectMany(x => x)]);
            var metrics = new Dictionary<string, double>
            {
                ["bare_boot_to_agent_ms_median"] = bootMedian,
                ["isola_ready_ms_median"] = readyMedian,
                ["ready_ratio"] = readyMedian / bootMedian,
                ["runc_run_in_guest_ms_median"] = runcMedian,
                ["isola_container_ms_median"] = containerMedian,
                ["container_ratio"] = containerMedian / runcMedian,
                ["agent_rss_kb_median"] = BenchResult.Median(rss),
                ["initrd_bytes"] = new FileInfo(ValueAfter(argv, "-initrd")).Length,
                ["runs"] = runs,
                ["containers_per_vm"] = PerVm,
            };
            var notes = new List<string>
            {
                "bare boot: Isola's qemu-system-x86_64 command line (read from /proc/<pid>/cmdline), exec to isola-agent's ISOLA-AGENT-READY console line",
                "isola ready: ISandboxes.RunAsync (Create + Start: virtiofsd, VMM, QMP, agent Check over virtio-serial)",
                "runc in guest: `runc run` of the bundle Isola wrote for the same container (its config.json, a copy of the busybox rootfs), placed in the bare VM's virtiofs share where Isola places it, run inside the guest before the agent starts, " +
                    $"{PerVm} times in a row per VM, each timed on the host between console markers echoed just before and after it (1 ms poll; the guest's clock runs fast under TCG)",
                $"isola container: Containers.CreateAsync + StartAsync + WaitAsync of busybox `true`, {PerVm} in a row per sandbox (each deleted before the next), timed on the host (Prepare: bundle, bind mount, output twins, record writes; Task Create = runc create in the guest; Start = the agent opens runc's exec fifo; Wait)",
                "container_ratio: median of all Isola containers / median of all runc runs; per position k in the VM: see container_ratio_k",
                "samples bare boot ms: " + Join(bareBoot),
                "samples isola ready ms: " + Join(ready),
                "agent RSS: VmRSS of isola-agent in the guest after a host session (its console line ISOLA-AGENT-RSS-KB)",
            };
            for (var k = 0; k < PerVm; k++)
            {
                metrics[$"runc_run_in_guest_ms_median_{k + 1}"] = BenchResult.Median(runcFloor[k]);
                metrics[$"isola_container_ms_median_{k + 1}"] = BenchResult.Median(container[k]);
                metrics[$"container_ratio_{k + 1}"] = BenchResult.Median(container[k]) / BenchResult.Median(runcFloor[k]);
                notes.Add($"samples runc run #{k + 1} ms: " + Join(runcFloor[k]));
                notes.Add($"samples isola container #{k + 1} ms: " + Join(container[k]));
            }

            return new BenchResult(Name, metrics, [.. notes]);
        }
        finally
        {
            foreach (var dir in new[] { root, plugins, work })
            {
                try
                {
                    if (Directory.Exists(dir))
                    {
                        Directory.Delete(dir, true);
                    }
                }
                catch (IOException e)
                {
                    // Left for a look (a failed run's sandbox still mounted): say so rather than hide the failure.
                    Console.Error.WriteLine($"vm-container: {dir} left behind: {e.Message}");
                }
            }
        }
    }

    private sealed record IsolaRun(IReadOnlyList<string> Argv, (string Id, string Json)? Config, double Ready, double[] Containers, double RssKb);

    private static async Task<IsolaRun> IsolaRunAsync(IsolaHost host, string root, string rootfs, bool captureConfig, CancellationToken cancellationToken)
    {
        var sw = Stopwatch.StartNew();
        var sandbox = await host.Sandboxes.RunAsync(new SandboxSpec { Runtime = Runtime }, cancellationToken);
        var ready = sw.Elapsed.TotalMilliseconds;
        var argv = (await File.ReadAllTextAsync($"/proc/{sandbox.Info.Pid}/cmdline", cancellationToken)).TrimEnd('\0').Split('\0');

        var containers = new double[PerVm];
        (string, string)? config = null;
        try
        {
            for (var k = 0; k < PerVm; k++)
            {
                sw.Restart();
                var c = await sandbox.Containers.CreateAsync(new ContainerSpec { Rootfs = rootfs, Args = ["true"] }, cancellationToken);
                if (captureConfig && k == 0)
                {
                    config = (c.Id.Value, await File.ReadAllTextAsync(Path.Combine(root, sandbox.Id.Value, "shared", c.Id.Value, "config.json"), cancellationToken));
                    sw.Restart();
                    await c.DeleteAsync(cancellationToken: cancellationToken);
                    break;
                }

                await c.StartAsync(cancellationToken);
                var exit = await c.WaitAsync(cancellationToken);
                containers[k] = sw.Elapsed.TotalMilliseconds;
                if (exit.Code != 0)
                {
                    throw new InvalidOperationException($"the benchmark container exited {exit.Code}");
                }

                await c.DeleteAsync(cancellationToken: cancellationToken);
            }
        }
        catch (Exception e)
        {
            var log = await File.ReadAllTextAsync(Path.Combine(root, sandbox.Id.Value, "console.log"), CancellationToken.None);
            await sandbox.RemoveAsync(CancellationToken.None);
            throw new InvalidOperationException($"{e.Message}; guest console: {log[Math.Max(0, log.Length - 3000)..]}", e);
        }

        await sandbox.StopAsync(TimeSpan.FromSeconds(5), cancellationToken);
        var console = await File.ReadAllTextAsync(Path.Combine(root, sandbox.Id.Value, "console.log"), cancellationToken);
        await sandbox.RemoveAsync(cancellationToken);
        var rss = RssLine().Matches(console) is { Count: > 0 } m ? double.Parse(m[^1].Groups[1].Value, CultureInfo.InvariantCulture) : double.NaN;
        return new IsolaRun(argv, config, ready, containers, rss);
    }

    private static string Begin(int k) => $"ISOLA-BENCH-T0-{k}";

    private static string End(int k) => $"ISOLA-BENCH-T1-{k}";

    /// <summary>The guest's initramfs with a second archive appended (the kernel unpacks both): /bench/run, which runs
    /// `runc run` of the bundle at /run/kuasar/state/<paramref name="cid"/> (the bare VM's share, where Isola would put
    /// it) <see cref="PerVm"/> times between console markers.</summary>
    private static string BuildBenchInitrd(IReadOnlyList<string> argv, string cid, string work)
    {
        var layer = Path.Combine(work, "bench-layer");
        Directory.CreateDirectory(Path.Combine(layer, "bench"));
        var script = Path.Combine(layer, "bench", "run");
        File.WriteAllText(script, $$"""
            #!/bin/sh
            # Mounts what runc needs (the agent, which starts next, skips what is mounted), then runs runc run {{PerVm}} times.
            mkdir -p /sys/fs/cgroup && mount -t cgroup2 cgroup2 /sys/fs/cgroup
            echo +cpu +memory +pids > /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null
            bundle=/run/kuasar/state/{{cid}}
            k=1
            while [ $k -le {{PerVm}} ]; do
              # The host times runc between the two markers (echo is a shell builtin: no process around runc).
              echo ISOLA-BENCH-T0-$k
              runc --root /run/bench-runc run -b $bundle bench$k </dev/null >/dev/null 2>/bench/runc.err
              rc=$?
              echo ISOLA-BENCH-T1-$k
              echo "ISOLA-BENCH-EXIT $k $rc $(cat /bench/runc.err)"
              k=$((k + 1))
            done
            echo ISOLA-BENCH-DONE
            """.Replace("\r", "", StringComparison.Ordinal));
        Run("/bin/chmod", "/", "0755", script);
        var layerArchive = Path.Combine(work, "bench-layer.cpio.gz");
        Run("/bin/sh", layer, "-c", $"find . | cpio -o -H newc --quiet | gzip -1 > '{layerArchive}'");
        var combined = Path.Combine(work, "initrd-bench.gz");
        using (var output = File.Create(combined))
        {
            foreach (var part in new[] { ValueAfter(argv, "-initrd"), layerArchive })
            {
                using var input = File.OpenRead(part);
                input.CopyTo(output);
            }
        }

        return combined;
    }

    private static void CheckRuncExits(string console)
    {
        var exits = RuncExit().Matches(console);
        if (exits.Count != PerVm || exits.Any(m => m.Groups[2].Value != "0"))
        {
            throw new InvalidOperationException($"runc run in the guest failed: {console[Math.Max(0, console.Length - 600)..]}");
        }
    }

    private static void CopyTree(string from, string to)
    {
        Run("/bin/cp", "/", "-a", from, to);
    }

    private static void Run(string file, string cwd, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { WorkingDirectory = cwd, RedirectStandardError = true };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi)!;
        var error = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} failed: {error}");
        }
    }

    private static string ValueAfter(IReadOnlyList<string> argv, string flag) => argv[argv.ToList().IndexOf(flag) + 1];

    private static string Join(IEnumerable<double> samples) => string.Join(", ", samples.Select(x => x.ToString("0", CultureInfo.InvariantCulture)));

    [GeneratedRegex(@"ISOLA-BENCH-EXIT (\d+) (\d+)")]
    private static partial Regex RuncExit();

    [GeneratedRegex(@"ISOLA-AGENT-RSS-KB (\d+)")]
    private static partial Regex RssLine();
}
