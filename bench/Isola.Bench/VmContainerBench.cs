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
/// <item>container floor: <c>runc run</c> of the same bundle (the config.json Isola wrote, a busybox rootfs) run
/// inside the same guest by a /bench/run hook packed into a second initramfs archive appended to the guest's, timed on
/// the host's clock between two console markers around it (<see cref="ConsoleClock"/>: the guest's clock runs fast
/// under TCG, so its /proc/uptime figure, still reported, overstates the floor).</item>
/// </list>
/// Runs alternate (floors, Isola, floors, ...) so drift hits both alike. Also reports the agent's RSS in the guest (its
/// console line after a host session) and the initramfs size.
/// </summary>
internal sealed partial class VmContainerBench : IBenchmark
{
    private const string Runtime = "qemu-vm";
    private const string AgentReady = "ISOLA-AGENT-READY";
    private const string RuncLine = "ISOLA-BENCH-RUNC";
    private const string RuncBegin = "ISOLA-BENCH-T0";
    private const string RuncEnd = "ISOLA-BENCH-T1";

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
            var (argv, config, _, _, _) = await IsolaRunAsync(host, root, rootfs, captureConfig: true, cancellationToken);
            var benchInitrd = BuildBenchInitrd(argv, config!, rootfs, work);
            var runcArgv = argv.Select(a => a == ValueAfter(argv, "-initrd") ? benchInitrd : a).ToList();

            var bareBoot = new List<double>();
            var runcFloor = new List<double>();
            var runcGuestClock = new List<double>();
            var ready = new List<double>();
            var container = new List<double>();
            var rss = new List<double>();
            for (var i = 0; i < runs; i++)
            {
                bareBoot.Add(await VmBench.BareBootAsync(argv, Path.Combine(work, "bare"), AgentReady, cancellationToken));
                using (var clock = new ConsoleClock(RuncBegin, RuncEnd))
                {
                    await VmBench.BareBootAsync(runcArgv, Path.Combine(work, "runc"), RuncLine, cancellationToken, clock);
                    runcGuestClock.Add(RuncSeconds(await File.ReadAllTextAsync(Path.Combine(work, "runc", "console.log"), cancellationToken)) * 1000);
                    runcFloor.Add(clock.Between(RuncBegin, RuncEnd) ?? throw new InvalidOperationException("the runc floor's console markers were not seen"));
                }

                var (_, _, r, c, kb) = await IsolaRunAsync(host, root, rootfs, captureConfig: false, cancellationToken);
                ready.Add(r);
                container.Add(c);
                rss.Add(kb);
            }

            var bootMedian = BenchResult.Median(bareBoot);
            var readyMedian = BenchResult.Median(ready);
            var runcMedian = BenchResult.Median(runcFloor);
            var runcGuestMedian = BenchResult.Median(runcGuestClock);
            var containerMedian = BenchResult.Median(container);
            return new BenchResult(Name, new Dictionary<string, double>
            {
                ["bare_boot_to_agent_ms_median"] = bootMedian,
                ["isola_ready_ms_median"] = readyMedian,
                ["ready_ratio"] = readyMedian / bootMedian,
                ["runc_run_in_guest_ms_median"] = runcMedian,
                ["isola_container_ms_median"] = containerMedian,
                ["container_ratio"] = containerMedian / runcMedian,
                ["runc_run_guest_clock_ms_median"] = runcGuestMedian,
                ["container_ratio_vs_guest_clock"] = containerMedian / runcGuestMedian,
                ["guest_clock_rate_median"] = BenchResult.Median([.. runcGuestClock.Zip(runcFloor, (g, h) => g / h)]),
                ["agent_rss_kb_median"] = BenchResult.Median(rss),
                ["initrd_bytes"] = new FileInfo(ValueAfter(argv, "-initrd")).Length,
                ["runs"] = runs,
            }, [
                "bare boot: Isola's qemu-system-x86_64 command line (read from /proc/<pid>/cmdline), exec to isola-agent's ISOLA-AGENT-READY console line",
                "isola ready: ISandboxes.RunAsync (Create + Start: virtiofsd, VMM, QMP, agent Check over virtio-serial)",
                "runc in guest: `runc run` of the config.json Isola wrote for the same container, busybox rootfs in the initramfs, run inside the guest before the agent starts, timed on the host between console markers echoed just before and after it (1 ms poll)",
                "runc guest clock: the same run timed with the guest's /proc/uptime, which runs fast under TCG (guest_clock_rate = guest ms / host ms); container_ratio_vs_guest_clock is the ratio this benchmark reported before it timed the floor on the host",
                "isola container: Containers.CreateAsync + StartAsync + WaitAsync of busybox `true`, timed on the host (Prepare: bundle, bind mount, output twins, record writes; Task Create = runc create in the guest; Start = the agent opens runc's exec fifo; Wait)",
                "samples bare boot ms: " + Join(bareBoot),
                "samples isola ready ms: " + Join(ready),
                "samples runc run in guest ms: " + Join(runcFloor),
                "samples runc run, guest clock ms: " + Join(runcGuestClock),
                "samples isola container ms: " + Join(container),
                "agent RSS: VmRSS of isola-agent in the guest after a host session (its console line ISOLA-AGENT-RSS-KB)",
            ]);
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

    private static async Task<(IReadOnlyList<string> Argv, string? Config, double Ready, double Container, double RssKb)> IsolaRunAsync(
        IsolaHost host, string root, string rootfs, bool captureConfig, CancellationToken cancellationToken)
    {
        var sw = Stopwatch.StartNew();
        var sandbox = await host.Sandboxes.RunAsync(new SandboxSpec { Runtime = Runtime }, cancellationToken);
        var ready = sw.Elapsed.TotalMilliseconds;
        var argv = (await File.ReadAllTextAsync($"/proc/{sandbox.Info.Pid}/cmdline", cancellationToken)).TrimEnd('\0').Split('\0');

        sw.Restart();
        IContainer c;
        ExitStatus exit;
        string? config;
        try
        {
            c = await sandbox.Containers.CreateAsync(new ContainerSpec { Rootfs = rootfs, Args = ["true"] }, cancellationToken);
            config = captureConfig ? await File.ReadAllTextAsync(Path.Combine(root, sandbox.Id.Value, "shared", c.Id.Value, "config.json"), cancellationToken) : null;
            await c.StartAsync(cancellationToken);
            exit = await c.WaitAsync(cancellationToken);
        }
        catch (Exception e)
        {
            var log = await File.ReadAllTextAsync(Path.Combine(root, sandbox.Id.Value, "console.log"), CancellationToken.None);
            await sandbox.RemoveAsync(CancellationToken.None);
            throw new InvalidOperationException($"{e.Message}; guest console: {log[Math.Max(0, log.Length - 3000)..]}", e);
        }

        var container = sw.Elapsed.TotalMilliseconds;
        if (exit.Code != 0)
        {
            await sandbox.RemoveAsync(CancellationToken.None);
            throw new InvalidOperationException($"the benchmark container exited {exit.Code}");
        }

        await c.DeleteAsync(cancellationToken: cancellationToken);
        await sandbox.StopAsync(TimeSpan.FromSeconds(5), cancellationToken);
        var console = await File.ReadAllTextAsync(Path.Combine(root, sandbox.Id.Value, "console.log"), cancellationToken);
        await sandbox.RemoveAsync(cancellationToken);
        var rss = RssLine().Matches(console) is { Count: > 0 } m ? double.Parse(m[^1].Groups[1].Value, CultureInfo.InvariantCulture) : double.NaN;
        return (argv, config, ready, container, rss);
    }

    /// <summary>The guest's initramfs with a second archive appended (the kernel unpacks both): /bench/run, which times
    /// `runc run` of /bench/bundle and prints the result, and that bundle.</summary>
    private static string BuildBenchInitrd(IReadOnlyList<string> argv, string config, string rootfs, string work)
    {
        var layer = Path.Combine(work, "bench-layer");
        var bundle = Path.Combine(layer, "bench", "bundle");
        Directory.CreateDirectory(bundle);
        CopyTree(rootfs, Path.Combine(bundle, "rootfs"));
        File.WriteAllText(Path.Combine(bundle, "config.json"), config);
        var script = Path.Combine(layer, "bench", "run");
        File.WriteAllText(script, """
            #!/bin/sh
            # Mounts what runc needs (the agent, which starts next, skips what is mounted), then times one runc run.
            mkdir -p /sys/fs/cgroup && mount -t cgroup2 cgroup2 /sys/fs/cgroup
            echo +cpu +memory +pids > /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null
            # The host times runc between the two markers (echo is a shell builtin: no process around runc).
            t0=$(cut -d' ' -f1 /proc/uptime)
            echo ISOLA-BENCH-T0
            runc --root /run/bench-runc run -b /bench/bundle bench </dev/null >/dev/null 2>/bench/runc.err
            rc=$?
            echo ISOLA-BENCH-T1
            t1=$(cut -d' ' -f1 /proc/uptime)
            echo "ISOLA-BENCH-RUNC $t0 $t1 exit $rc $(cat /bench/runc.err)"
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

    private static double RuncSeconds(string console)
    {
        var m = RuncResult().Match(console);
        if (!m.Success || m.Groups[3].Value != "0")
        {
            throw new InvalidOperationException($"runc run in the guest failed: {console[Math.Max(0, console.Length - 600)..]}");
        }

        return double.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture) - double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
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

    [GeneratedRegex(@"ISOLA-BENCH-RUNC ([0-9.]+) ([0-9.]+) exit (\d+)")]
    private static partial Regex RuncResult();

    [GeneratedRegex(@"ISOLA-AGENT-RSS-KB (\d+)")]
    private static partial Regex RssLine();
}
