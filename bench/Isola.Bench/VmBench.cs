using System.Diagnostics;
using Isola.Hosting;
using Isola.TestSupport;
using Microsoft.Extensions.Configuration;

namespace Isola.Bench;

/// <summary>
/// VM sandbox ready latency and teardown through Isola (the `vm` controller on a QEMU microvm under TCG), beside the
/// bare VMM boot: the very same QEMU command line, read back from the VMM Isola launched, started by hand and timed
/// until the guest prints its readiness marker. Runs alternate (bare, Isola, bare, ...) so drift hits both alike.
/// </summary>
internal sealed class VmBench : IBenchmark
{
    private const string Runtime = "qemu-vm";
    private const string Marker = "ISOLA-GUEST-READY";

    public string Name => "vm";

    public string Description => "VM sandbox ready + teardown (QEMU microvm, TCG) vs the bare VMM boot, median of N (default 5)";

    public async Task<BenchResult> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var runs = args.Length > 0 && int.TryParse(args[0], out var n) && n > 0 ? n : 5;
        var root = Path.Combine(Path.GetTempPath(), "isola-bench-vm-" + Guid.NewGuid().ToString("N")[..8]);
        var plugins = root + "-plugins";
        try
        {
            var builder = IsolaHost.CreateBuilder();
            builder.Configuration.AddInMemoryCollection(Configuration(root, plugins));
            await using var host = await builder.StartAsync(cancellationToken);

            // One warm-up sandbox also yields the exact command line the bare runs use.
            var argv = await WarmUpAsync(host, cancellationToken);
            var bare = new List<double>();
            var ready = new List<double>();
            var teardown = new List<double>();
            var own = new List<double>();
            for (var i = 0; i < runs; i++)
            {
                bare.Add(await BareBootAsync(argv, Path.Combine(root, "bare"), Marker, cancellationToken));
                var (r, t, o) = await IsolaRunAsync(host, root, cancellationToken);
                ready.Add(r);
                teardown.Add(t);
                own.Add(o);
            }

            var bareMedian = BenchResult.Median(bare);
            var readyMedian = BenchResult.Median(ready);
            return new BenchResult(Name, new Dictionary<string, double>
            {
                ["bare_boot_ms_median"] = bareMedian,
                ["isola_ready_ms_median"] = readyMedian,
                ["isola_teardown_ms_median"] = BenchResult.Median(teardown),
                ["isola_overhead_ms"] = readyMedian - bareMedian,
                ["isola_own_time_ms_median"] = BenchResult.Median(own),
                ["ready_ratio"] = readyMedian / bareMedian,
                ["runs"] = runs,
            }, [
                "bare: the same qemu-system-x86_64 command (read from /proc/<pid>/cmdline of Isola's VMM), timed from exec to the guest's ISOLA-GUEST-READY console line",
                "isola: ISandboxes.RunAsync (Create + Start: VMM launch, QMP handshake, console-marker readiness) ; teardown: StopAsync + RemoveAsync",
                "guest: Debian kernel (PVH vmlinux) + busybox initramfs from scripts/guest/build-guest; TCG, no KVM on this host",
                "samples bare ms: " + string.Join(", ", bare.Select(x => x.ToString("0"))),
                "samples isola ready ms: " + string.Join(", ", ready.Select(x => x.ToString("0"))),
                "isola_own_time: time in Isola itself, free of the guest's boot jitter = (VMM process start - RunAsync call) + " +
                "(RunAsync return - console write of the marker); 10 ms clock resolution; the first part includes QEMU's own pre-fork init",
            ]);
        }
        finally
        {
            foreach (var dir in new[] { root, plugins })
            {
                if (Directory.Exists(dir))
                {
                    Directory.Delete(dir, true);
                }
            }
        }
    }

    private static async Task<IReadOnlyList<string>> WarmUpAsync(IsolaHost host, CancellationToken cancellationToken)
    {
        var sandbox = await host.Sandboxes.RunAsync(new SandboxSpec { Runtime = Runtime }, cancellationToken);
        var cmdline = await File.ReadAllTextAsync($"/proc/{sandbox.Info.Pid}/cmdline", cancellationToken);
        await sandbox.RemoveAsync(cancellationToken);
        return cmdline.TrimEnd('\0').Split('\0');
    }

    private static async Task<(double Ready, double Teardown, double Own)> IsolaRunAsync(IsolaHost host, string root, CancellationToken cancellationToken)
    {
        var sw = Stopwatch.StartNew();
        var calledAtUptime = Uptime();
        var sandbox = await host.Sandboxes.RunAsync(new SandboxSpec { Runtime = Runtime }, cancellationToken);
        var ready = sw.Elapsed.TotalMilliseconds;
        var returnedAt = DateTime.UtcNow;
        var vmmStartedAtUptime = double.Parse(File.ReadAllText($"/proc/{sandbox.Info.Pid}/stat").Split(") ")[1].Split(' ')[19]) / 100;
        var markerAt = File.GetLastWriteTimeUtc(Path.Combine(root, sandbox.Id.Value, "console.log"));
        var own = (vmmStartedAtUptime - calledAtUptime) * 1000 + (returnedAt - markerAt).TotalMilliseconds;
        sw.Restart();
        await sandbox.StopAsync(TimeSpan.FromSeconds(5), cancellationToken);
        await sandbox.RemoveAsync(cancellationToken);
        return (ready, sw.Elapsed.TotalMilliseconds, own);
    }

    private static double Uptime() =>
        double.Parse(File.ReadAllText("/proc/uptime").Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Runs Isola's QEMU command line with its paths moved into <paramref name="dir"/>, times exec to the
    /// console line <paramref name="marker"/>, then kills the VMM (the console log stays in <paramref name="dir"/>).
    /// <paramref name="clock"/>, when given, watches the console from before the launch.</summary>
    internal static async Task<double> BareBootAsync(IReadOnlyList<string> argv, string dir, string marker, CancellationToken cancellationToken,
        ConsoleClock? clock = null, Action<string>? prepareShared = null)
    {
        if (Directory.Exists(dir))
        {
            Directory.Delete(dir, true);
        }

        Directory.CreateDirectory(dir);
        clock?.Start(Path.Combine(dir, "console.log"));
        var original = Path.GetDirectoryName(ValueAfter(argv, "-pidfile"))!;
        var psi = new ProcessStartInfo(argv[0]) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in argv.Skip(1))
        {
            psi.ArgumentList.Add(a.Replace(original, dir, StringComparison.Ordinal));
        }

        // Isola's command line includes the virtiofs share; the bare run gets the same daemon first.
        var virtiofs = argv.Any(a => a.Contains("vhost-user-fs", StringComparison.Ordinal));
        Process? daemon = null;
        if (prepareShared is not null && !virtiofs)
        {
            throw new InvalidOperationException("the benchmark places files in the VM's share, but this command line has no virtiofs share");
        }

        if (prepareShared is not null)
        {
            // Before the clock starts: placing files is the benchmark's set-up, not the boot.
            Directory.CreateDirectory(Path.Combine(dir, "shared"));
            prepareShared(Path.Combine(dir, "shared"));
        }

        var sw = Stopwatch.StartNew();
        if (virtiofs)
        {
            Directory.CreateDirectory(Path.Combine(dir, "shared"));
            daemon = Process.Start(new ProcessStartInfo("/usr/lib/qemu/virtiofsd")
            {
                ArgumentList = { $"--socket-path={Path.Combine(dir, "virtiofs.sock")}", "-o", $"source={Path.Combine(dir, "shared")}", "-o", "cache=none" },
                RedirectStandardError = true,
                RedirectStandardOutput = true,
            })!;
            while (!File.Exists(Path.Combine(dir, "virtiofs.sock")))
            {
                await Task.Delay(5, cancellationToken);
            }
        }

        using (var launcher = Process.Start(psi)!)
        {
            await launcher.WaitForExitAsync(cancellationToken);
            if (launcher.ExitCode != 0)
            {
                throw new InvalidOperationException($"bare qemu failed: {await launcher.StandardError.ReadToEndAsync(cancellationToken)}");
            }
        }

        var console = Path.Combine(dir, "console.log");
        while (!File.Exists(console) || !(await File.ReadAllTextAsync(console, cancellationToken)).Contains(marker, StringComparison.Ordinal))
        {
            await Task.Delay(10, cancellationToken);
        }

        var elapsed = sw.Elapsed.TotalMilliseconds;
        var pid = int.Parse((await File.ReadAllTextAsync(Path.Combine(dir, "vmm.pid"), cancellationToken)).Trim());
        using (var vmm = Process.GetProcessById(pid))
        {
            vmm.Kill();
            while (File.Exists($"/proc/{pid}/stat") && !File.ReadAllText($"/proc/{pid}/stat").Contains(") Z", StringComparison.Ordinal))
            {
                await Task.Delay(10, cancellationToken);
            }
        }

        if (daemon is not null)
        {
            daemon.Kill();
            await daemon.WaitForExitAsync(cancellationToken);
            daemon.Dispose();
        }

        return elapsed;
    }

    private static string ValueAfter(IReadOnlyList<string> argv, string flag) => argv[argv.ToList().IndexOf(flag) + 1];

    private static Dictionary<string, string?> Configuration(string root, string plugins) =>
        Configuration(root, plugins, "console-marker", ["Isola.Plugins.StratoVirt"]);

    /// <summary>A host with the qemu-vm runtime on the guest build-guest made, loading only <paramref name="pluginNames"/>
    /// (copied into <paramref name="plugins"/>), so a benchmark does not depend on other plugins loading.</summary>
    internal static Dictionary<string, string?> Configuration(string root, string plugins, string readiness, string[] pluginNames)
    {
        var guest = RepoPaths.Combine("artifacts", "guest");
        if (!File.Exists(Path.Combine(guest, "vmlinux")))
        {
            throw new InvalidOperationException($"no test guest in {guest}: run scripts/guest/build-guest");
        }

        foreach (var name in pluginNames)
        {
            var source = Path.Combine(AppContext.BaseDirectory, "plugins", name);
            if (!Directory.Exists(source))
            {
                // The layout the plugin's own build writes (artifacts/plugins/<assembly>/).
                source = RepoPaths.Combine("artifacts", "plugins", name);
            }

            Directory.CreateDirectory(Path.Combine(plugins, name));
            foreach (var f in Directory.GetFiles(source))
            {
                File.Copy(f, Path.Combine(plugins, name, Path.GetFileName(f)), true);
            }
        }

        const string o = $"Isola:Runtimes:{Runtime}:Options";
        return new Dictionary<string, string?>
        {
            ["Isola:Root"] = root,
            ["Isola:PluginsDir"] = plugins,
            ["Isola:DefaultRuntime"] = Runtime,
            [$"Isola:Runtimes:{Runtime}:Controller"] = "vm",
            [$"{o}:Vmm"] = "qemu",
            [$"{o}:Binary"] = "/usr/bin/qemu-system-x86_64",
            [$"{o}:Kernel"] = Path.Combine(guest, "vmlinux"),
            [$"{o}:Initrd"] = Path.Combine(guest, "initrd.gz"),
            [$"{o}:MemoryMiB"] = "256",
            [$"{o}:MachineType"] = "microvm",
            [$"{o}:KernelParams"] = "quiet",
            [$"{o}:Readiness"] = readiness,
            [$"{o}:AgentChannel"] = "serial",
            [$"{o}:HotplugSlots"] = "2",
        };
    }
}
