using Isola.Controllers;
using Isola.Executors;
using Isola.Plugins.Shim.Controller;
using Isola.Vmm;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;

namespace Isola.Plugins.Shim.Tests.Infrastructure;

/// <summary>
/// Drives the shim controller and the Task API plugin's executor directly, as the host does: a controller made by the
/// factory from configuration and lent the executor through its services, one state directory per sandbox, containers
/// prepared then created through the executor with what Prepare returned.
/// </summary>
internal sealed class PodHarness : IAsyncDisposable
{
    public const string Namespace = "isola-test";
    public const string CgroupParent = "/isola-test";

    private readonly List<SandboxContext> _sandboxes = [];

    public PodHarness(IDictionary<string, string?>? options = null, string? stateRoot = null)
    {
        StateRoot = stateRoot ?? Path.Combine(Path.GetTempPath(), "isola-shim-" + Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(StateRoot);
        var config = new Dictionary<string, string?> { ["Namespace"] = Namespace, ["CgroupParent"] = CgroupParent };
        foreach (var (k, v) in options ?? new Dictionary<string, string?>())
        {
            config[k] = v;
        }

        _config = config;
        Controller = NewController();
    }

    private readonly Dictionary<string, string?> _config;

    /// <summary>Another controller on the same state root, as a second host process would make; the caller disposes it.</summary>
    public ShimController NewController() => NewController(new ExecutorOnlyServices(Executor));

    /// <summary>A controller on the same state root that finds what <paramref name="services"/> has; the caller disposes it.</summary>
    public ShimController NewController(Isola.Plugins.IPluginServices services) =>
        (ShimController)new ShimControllerFactory().Create(new ControllerContext("runc",
            new ConfigurationBuilder().AddInMemoryCollection(_config).Build(), "Isola:Runtimes:runc:Options", StateRoot,
            NullLoggerFactory.Instance, services));

    public string StateRoot { get; }

    /// <summary>The shim settings the harness's controllers get (binary, namespace, addresses).</summary>
    public Launcher.ShimSettings Settings => ShimControllerFactory.SettingsFor(
        ShimControllerOptions.Bind(new ConfigurationBuilder().AddInMemoryCollection(_config).Build(), "test"), StateRoot, "runc");

    public ShimController Controller { get; }

    /// <summary>The executor the Task API plugin registers, as the host would find it for a shim's address.</summary>
    public ITaskExecutor Executor { get; } = TaskApiExecutor.Registered();

    public SandboxContext NewContext(SandboxId? given = null, SandboxSpec? spec = null, IDictionary<string, string>? data = null)
    {
        var id = given ?? SandboxId.Parse("sb-" + Guid.NewGuid().ToString("N")[..10]);
        var dir = Path.Combine(StateRoot, id.Value);
        Directory.CreateDirectory(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var context = new SandboxContext(id, spec?.Name ?? id.Value, spec ?? new SandboxSpec { Id = id }, dir, data ?? new Dictionary<string, string>());
        lock (_sandboxes)
        {
            _sandboxes.Add(context);
        }

        return context;
    }

    public async Task<SandboxContext> RunSandboxAsync(SandboxSpec? spec = null, CancellationToken ct = default)
    {
        var sandbox = NewContext(spec?.Id, spec);
        await Controller.CreateAsync(sandbox, ct);
        var started = await Controller.StartAsync(sandbox, ct);
        sandbox.TaskAddress = started.TaskAddress;
        sandbox.TaskApiVersion = started.TaskApiVersion;
        return sandbox;
    }

    /// <summary>The shim pid the controller recorded at Start (a shared shim's for every pod in it).</summary>
    public static int ShimPidOf(SandboxContext sandbox) =>
        int.Parse(sandbox.ControllerData[ControllerDataKeys.ShimPid], System.Globalization.CultureInfo.InvariantCulture);

    public async Task<ITaskClient> TaskClientAsync(SandboxContext sandbox) =>
        await Executor.ConnectAsync(TaskEndpoint.Parse(sandbox.TaskAddress, sandbox.TaskApiVersion), CancellationToken.None);

    /// <summary>Prepares and creates a container, as the host does; returns its id and the files its output goes to.</summary>
    public async Task<(string Id, string Stdout, string Stderr)> CreateContainerAsync(ITaskClient client, SandboxContext sandbox,
        string rootfs, IReadOnlyList<string> args, string? id = null)
    {
        id ??= "c-" + Guid.NewGuid().ToString("N")[..8];
        var logs = Path.Combine(sandbox.StateDirectory, "containers", id);
        Directory.CreateDirectory(logs);
        var stdio = new StdioSpec("", Path.Combine(logs, "stdout.log"), Path.Combine(logs, "stderr.log"));
        var prepared = await Controller.PrepareAsync(sandbox, new PrepareRequest
        {
            ContainerId = id,
            Container = new ContainerSpec { Rootfs = rootfs, Args = args },
            OciSpec = ContainerSpecs.Oci(sandbox.Id.Value, args),
            Stdio = new StdioSpec("", "file://" + stdio.Stdout, "file://" + stdio.Stderr),
        }, CancellationToken.None);
        var urls = new StdioSpec("", "file://" + stdio.Stdout, "file://" + stdio.Stderr);
        await client.CreateAsync(new TaskCreateRequest
        {
            Id = id,
            Bundle = prepared.Bundle,
            Rootfs = prepared.Rootfs,
            Stdio = prepared.Stdio ?? urls, // as the host does: the controller may translate stdio
            Options = prepared.Options, // and choose the runtime options
        }, CancellationToken.None);
        return (id, stdio.Stdout, stdio.Stderr);
    }

    /// <summary>Runs a container to completion and returns its exit code and stdout.</summary>
    public async Task<(uint Exit, string Stdout)> RunToExitAsync(ITaskClient client, SandboxContext sandbox, string rootfs, params string[] args)
    {
        var (id, stdout, _) = await CreateContainerAsync(client, sandbox, rootfs, args);
        var wait = StartAndWaitAsync(client, id);
        var exit = await wait;
        await client.DeleteAsync(id, null, CancellationToken.None);
        await Controller.PurgeAsync(sandbox, new PurgeRequest(id), CancellationToken.None);
        return (exit.Code, File.Exists(stdout) ? await File.ReadAllTextAsync(stdout) : "");
    }

    public static async Task<ExitStatus> StartAndWaitAsync(ITaskClient client, string id)
    {
        await client.StartAsync(id, null, CancellationToken.None);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        return await client.WaitAsync(id, null, cts.Token);
    }

    public async Task TeardownAsync(SandboxContext sandbox)
    {
        await Controller.StopAsync(sandbox, TimeSpan.FromSeconds(5), CancellationToken.None);
        await Controller.ShutdownAsync(sandbox, CancellationToken.None);
    }

    public async ValueTask DisposeAsync()
    {
        // Whatever a failed test left: tear it down so that no shim, pause or cgroup outlives the run.
        List<SandboxContext> sandboxes;
        lock (_sandboxes)
        {
            sandboxes = [.. _sandboxes];
        }

        foreach (var sandbox in sandboxes)
        {
            try
            {
                await Controller.ShutdownAsync(sandbox, CancellationToken.None);
            }
            catch (IsolaException)
            {
                // reported by the test itself
            }
        }

        await Controller.DisposeAsync();
        if (Directory.Exists(StateRoot))
        {
            Directory.Delete(StateRoot, recursive: true);
        }
    }

    private sealed class ExecutorOnlyServices(ITaskExecutor executor) : Isola.Plugins.IPluginServices
    {
        public IVmm GetVmm(string name) => throw IsolaException.NotFound($"no VMM '{name}' in the shim tests");

        public ITaskExecutor GetExecutor(string scheme) => executor.Schemes.Contains(scheme)
            ? executor
            : throw IsolaException.NotFound($"no executor for '{scheme}' in the shim tests");
    }
}
