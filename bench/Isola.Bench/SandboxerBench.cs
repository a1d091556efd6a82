using System.Diagnostics;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Isola.Controllers;
using Isola.Executors;
using Isola.Hosting;
using Isola.Plugins;
using Isola.Plugins.Sandboxer;
using Isola.Plugins.Sandboxer.Transport;
using Isola.SandboxApi;
using Isola.SandboxApi.V1;
using Isola.Vmm;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;

namespace Isola.Bench;

/// <summary>
/// The sandboxer controller against an in-process no-op Sandbox API server on a Unix socket: full lifecycles
/// (Create, Start, Status, Stop, Shutdown) per second at concurrency 1 and 64, with the same lifecycle done with raw
/// generated-client calls in the same run as the floor (target: controller/raw &lt;= 1.15); then host RSS with 1000 live
/// sandboxes tracked, the server in a child process so only the host is measured (target: &lt;= 16 KiB per sandbox).
/// Usage: isola-bench sandboxer [lifecycles-at-c1 (200)] [lifecycles-at-c64 (2000)] [sandboxes (1000)].
/// </summary>
internal sealed class SandboxerBench : IBenchmark
{
    private const int Runs = 7;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    public string Name => "sandboxer";

    public string Description => "sandboxer lifecycle/s at c=1,64 vs raw gRPC (<= 1.15x); host RSS per live sandbox (<= 16 KiB)";

    public async Task<BenchResult> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        if (args is ["--serve", var socket])
        {
            await using var server = await SandboxerNoopServer.StartAsync(socket);
            await Task.Delay(Timeout.Infinite, cancellationToken).ContinueWith(_ => { }, TaskScheduler.Default);
            return new BenchResult(Name, new Dictionary<string, double>(), []);
        }

        var c1 = args.Length > 0 ? int.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 200;
        var c64 = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 2000;
        var live = args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 1000;
        var dir = Path.Combine(Path.GetTempPath(), "isola-bench-sbx-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        try
        {
            var metrics = new Dictionary<string, double>();
            await ThroughputAsync(dir, 1, c1, metrics, cancellationToken);
            await ThroughputAsync(dir, 64, c64, metrics, cancellationToken);
            await MemoryAsync(dir, live, metrics, cancellationToken);
            return new BenchResult(Name, metrics,
            [
                $"median of {Runs} runs; each worker alternates a raw and a controller lifecycle (raw = generated client, identical requests, own channel)",
                "memory: RSS of this process (server in a child process) after full GC, live sandboxes minus empty host, per sandbox",
            ]);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static async Task ThroughputAsync(string dir, int concurrency, int lifecycles, Dictionary<string, double> metrics, CancellationToken ct)
    {
        var socket = Path.Combine(dir, $"noop{concurrency}.sock");
        await using var server = await SandboxerNoopServer.StartAsync(socket);
        var controller = NewController(socket);
        using var raw = new SandboxerEndpoint(socket);
        var client = new Controller.ControllerClient(raw.Invoker);

        // Warm both paths (JIT, connections) before timing.
        await RunMixedAsync(concurrency, concurrency * 4, controller, client, ct);
        var ratios = new List<double>();
        var controllerLatency = new List<double>();
        var rawLatency = new List<double>();
        for (var run = 0; run < Runs; run++)
        {
            var (controllerSeconds, rawSeconds) = await RunMixedAsync(concurrency, lifecycles, controller, client, ct);
            ratios.Add(controllerSeconds / rawSeconds);
            controllerLatency.Add(controllerSeconds / lifecycles);
            rawLatency.Add(rawSeconds / lifecycles);
        }

        // Each worker keeps `concurrency` lifecycles in flight, so throughput = concurrency / mean lifecycle latency.
        metrics[$"c{concurrency}_controller_lifecycles_per_s"] = concurrency / BenchResult.Median(controllerLatency);
        metrics[$"c{concurrency}_raw_lifecycles_per_s"] = concurrency / BenchResult.Median(rawLatency);
        metrics[$"c{concurrency}_controller_call_latency_us"] = BenchResult.Median(controllerLatency) * 1e6 / 5;
        metrics[$"c{concurrency}_controller_over_raw"] = BenchResult.Median(ratios);
    }

    /// <summary>
    /// Every worker alternates a raw lifecycle and a controller lifecycle (swapping which goes first each time) and
    /// adds each one's duration to its path's total, so both paths see the same load at the same moments: on a
    /// shared two-core machine that is the only way the ratio measures the controller rather than the neighbours.
    /// Returns the summed seconds of each path.
    /// </summary>
    private static async Task<(double Controller, double Raw)> RunMixedAsync(int concurrency, int lifecycles,
        ISandboxController controller, Controller.ControllerClient client, CancellationToken ct)
    {
        var next = -1;
        long controllerTicks = 0, rawTicks = 0;
        var prefix = "b" + Guid.NewGuid().ToString("N")[..6] + "-";
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => Task.Run(async () =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < lifecycles)
            {
                for (var leg = 0; leg < 2; leg++)
                {
                    var useController = (i + leg) % 2 == 0;
                    var started = Stopwatch.GetTimestamp();
                    if (useController)
                    {
                        await ControllerLifecycleAsync(controller, prefix + "c" + i, ct);
                        Interlocked.Add(ref controllerTicks, Stopwatch.GetTimestamp() - started);
                    }
                    else
                    {
                        await RawLifecycleAsync(client, prefix + "r" + i, ct);
                        Interlocked.Add(ref rawTicks, Stopwatch.GetTimestamp() - started);
                    }
                }
            }
        })));
        return ((double)controllerTicks / Stopwatch.Frequency, (double)rawTicks / Stopwatch.Frequency);
    }

    private static async Task ControllerLifecycleAsync(ISandboxController controller, string id, CancellationToken ct)
    {
        var sandbox = new SandboxContext(id, id, new SandboxSpec { Id = id }, "/nonexistent", new Dictionary<string, string>());
        await controller.CreateAsync(sandbox, ct);
        await controller.StartAsync(sandbox, ct);
        await controller.StatusAsync(sandbox, false, ct);
        await controller.StopAsync(sandbox, TimeSpan.Zero, ct);
        await controller.ShutdownAsync(sandbox, ct);
    }

    private static async Task RawLifecycleAsync(Controller.ControllerClient client, string id, CancellationToken ct)
    {
        CallOptions Options() => new(deadline: DateTime.UtcNow + Deadline, cancellationToken: ct);
        var now = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow);
        var config = new SandboxApi.Cri.PodSandboxConfig
        {
            Metadata = new SandboxApi.Cri.PodSandboxMetadata { Name = id, Uid = id, Namespace = "isola" },
            Hostname = id,
            Linux = new SandboxApi.Cri.LinuxPodSandboxConfig(),
        };
        var create = await client.CreateAsync(new ControllerCreateRequest
        {
            SandboxId = id,
            Sandboxer = "noop",
            Options = new Any { TypeUrl = TypeUrls.PodSandboxConfig, Value = Google.Protobuf.MessageExtensions.ToByteString(config) },
            Sandbox = new SandboxApi.V1.Sandbox
            {
                SandboxId = id, Sandboxer = "noop", Runtime = new SandboxApi.V1.Sandbox.Types.Runtime { Name = "noop" },
                CreatedAt = now, UpdatedAt = now,
            },
        }, Options());
        _ = create.SandboxId;
        await client.StartAsync(new ControllerStartRequest { SandboxId = id, Sandboxer = "noop" }, Options());
        await client.StatusAsync(new ControllerStatusRequest { SandboxId = id, Sandboxer = "noop" }, Options());
        await client.StopAsync(new ControllerStopRequest { SandboxId = id, Sandboxer = "noop" }, Options());
        await client.ShutdownAsync(new ControllerShutdownRequest { SandboxId = id, Sandboxer = "noop" }, Options());
    }

    private static async Task MemoryAsync(string dir, int live, Dictionary<string, double> metrics, CancellationToken ct)
    {
        var socket = Path.Combine(dir, "mem.sock");
        using var server = StartChildServer(socket);
        for (var i = 0; i < 200 && !File.Exists(socket); i++)
        {
            await Task.Delay(50, ct);
        }

        var builder = IsolaHost.CreateBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Isola:Root"] = Path.Combine(dir, "root"),
            ["Isola:PluginsDir"] = Directory.CreateDirectory(Path.Combine(dir, "no-plugins")).FullName,
            ["Isola:DefaultRuntime"] = "noop",
            ["Isola:Runtimes:noop:Controller"] = "sandboxer",
            ["Isola:Runtimes:noop:Options:Address"] = socket,
            ["Isola:Runtimes:noop:Options:Api"] = "v1",
        });
        builder.AddPlugin(new SandboxerPlugin());
        try
        {
            await using var host = await builder.StartAsync(ct);
            // Warm up every code path once, then measure the empty host.
            await RunAndRemoveAsync(host, 32, ct);
            var empty = SettledRss();
            var sandboxes = await RunAllAsync(host, live, ct);
            var loaded = SettledRss();
            metrics["live_sandboxes"] = live;
            metrics["rss_empty_host_kib"] = empty / 1024.0;
            metrics["rss_with_live_sandboxes_kib"] = loaded / 1024.0;
            metrics["rss_per_live_sandbox_kib"] = (loaded - empty) / 1024.0 / live;
            await ForEachAsync(sandboxes, 16, s => s.RemoveAsync(ct));
        }
        finally
        {
            server.Kill(entireProcessTree: true);
            await server.WaitForExitAsync(CancellationToken.None);
        }
    }

    private static async Task RunAndRemoveAsync(IsolaHost host, int count, CancellationToken ct) =>
        await ForEachAsync(await RunAllAsync(host, count, ct), 16, s => s.RemoveAsync(ct));

    private static async Task<List<ISandbox>> RunAllAsync(IsolaHost host, int count, CancellationToken ct)
    {
        var sandboxes = new ISandbox[count];
        await ForEachAsync(Enumerable.Range(0, count).ToList(), 16,
            async i => sandboxes[i] = await host.Sandboxes.RunAsync(new SandboxSpec(), ct));
        return [.. sandboxes];
    }

    private static Task ForEachAsync<T>(IReadOnlyList<T> items, int concurrency, Func<T, Task> action)
    {
        var next = -1;
        return Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => Task.Run(async () =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < items.Count)
            {
                await action(items[i]);
            }
        })));
    }

    private static long SettledRss()
    {
        for (var i = 0; i < 3; i++)
        {
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
            GC.WaitForPendingFinalizers();
            Thread.Sleep(200);
        }

        using var self = Process.GetCurrentProcess();
        return self.WorkingSet64;
    }

    /// <summary>This same program in --serve mode, so the server's memory is not counted in the host's.</summary>
    private static Process StartChildServer(string socket)
    {
        var start = new ProcessStartInfo(Environment.ProcessPath!) { UseShellExecute = false };
        var entry = Environment.GetCommandLineArgs()[0];
        if (entry.EndsWith(".dll", StringComparison.Ordinal))
        {
            start.ArgumentList.Add(entry);
        }

        foreach (var a in new[] { "sandboxer", "--serve", socket })
        {
            start.ArgumentList.Add(a);
        }

        return Process.Start(start) ?? throw new InvalidOperationException("cannot start the no-op server");
    }

    private static ISandboxController NewController(string socket)
    {
        var registry = new Registry();
        new SandboxerPlugin().Register(registry);
        var options = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Address"] = socket,
            ["Sandboxer"] = "noop",
            ["Api"] = "v1",
            ["Timeout"] = Deadline.ToString(),
        }).Build();
        return registry.Factory!.Create(new ControllerContext("noop", options, "Isola:Runtimes:noop:Options", "/nonexistent",
            NullLoggerFactory.Instance, registry));
    }

    private sealed class Registry : IPluginRegistry, IPluginServices
    {
        public ISandboxControllerFactory? Factory { get; private set; }

        public void AddController(ISandboxControllerFactory factory) => Factory = factory;

        public void AddVmm(IVmm vmm) => throw new NotSupportedException();

        public void AddExecutor(ITaskExecutor executor) => throw new NotSupportedException();

        public IVmm GetVmm(string name) => throw new NotSupportedException();

        public ITaskExecutor GetExecutor(string scheme) => throw new NotSupportedException();
    }
}
