using Isola.Controllers;
using Isola.Executors;
using Isola.Plugins.Shim;
using Isola.Plugins.Shim.Tests.Infrastructure;
using Isola.Vmm;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;

namespace Isola.Plugins.TaskApi.Tests.Infrastructure;

/// <summary>
/// Real containerd-shim-runc-v2 pods for the executor to talk to, made by the shim plugin as a host would: through its
/// public entry type and the abstractions, with this plugin's executor lent to the controller for the pause task.
/// </summary>
internal sealed class ShimPods : IAsyncDisposable
{
    private readonly List<SandboxContext> _sandboxes = [];
    private readonly ISandboxController _controller;

    public ShimPods()
    {
        StateRoot = Path.Combine(Path.GetTempPath(), "isola-taskapi-" + Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(StateRoot);
        var registry = new ControllerRegistry();
        new ShimPlugin().Register(registry);
        var options = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Namespace"] = "isola-taskapi-test",
            ["CgroupParent"] = "/isola-taskapi-test",
        }).Build();
        _controller = Assert.Single(registry.Factories).Create(new ControllerContext("runc", options, "Isola:Runtimes:runc:Options",
            StateRoot, NullLoggerFactory.Instance, new ExecutorServices(Executor)));
    }

    public string StateRoot { get; }

    public TtrpcTaskExecutor Executor { get; } = new(TimeSpan.FromSeconds(30));

    public async Task<SandboxContext> RunSandboxAsync()
    {
        var id = "sb-" + Guid.NewGuid().ToString("N")[..10];
        var dir = Path.Combine(StateRoot, id);
        Directory.CreateDirectory(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var sandbox = new SandboxContext(id, id, new SandboxSpec { Id = id }, dir, new Dictionary<string, string>());
        _sandboxes.Add(sandbox);
        await _controller.CreateAsync(sandbox, CancellationToken.None);
        var started = await _controller.StartAsync(sandbox, CancellationToken.None);
        sandbox.TaskAddress = started.TaskAddress;
        sandbox.TaskApiVersion = started.TaskApiVersion;
        return sandbox;
    }

    /// <summary>The pause's pid, as the controller's Start reported it.</summary>
    public static uint PausePid(SandboxContext sandbox) => uint.Parse(sandbox.ControllerData["pause.pid"], System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The shim's socket path, from the task address in any of its forms.</summary>
    public static string SocketOf(SandboxContext sandbox) =>
        sandbox.TaskAddress[(sandbox.TaskAddress.IndexOf("unix://", StringComparison.Ordinal) + 7)..];

    public async Task<ITaskClient> TaskClientAsync(SandboxContext sandbox) =>
        await Executor.ConnectAsync(TaskEndpoint.Parse(sandbox.TaskAddress, sandbox.TaskApiVersion), CancellationToken.None);

    /// <summary>Has the controller write a container's bundle, as the host does before Task Create.</summary>
    public async Task<(string Id, PrepareResult Prepared)> PrepareAsync(SandboxContext sandbox, string rootfs, IReadOnlyList<string> args)
    {
        var id = "c-" + Guid.NewGuid().ToString("N")[..8];
        var prepared = await _controller.PrepareAsync(sandbox, new PrepareRequest
        {
            ContainerId = id,
            Container = new ContainerSpec { Rootfs = rootfs, Args = args },
            OciSpec = ContainerSpecs.Oci(sandbox.Id.Value, args),
            Stdio = new StdioSpec("", "", ""),
        }, CancellationToken.None);
        return (id, prepared);
    }

    /// <summary>Prepares a container and creates its task, handing Create what Prepare returned, as the host does.</summary>
    public async Task<string> CreateContainerAsync(ITaskClient client, SandboxContext sandbox, string rootfs, IReadOnlyList<string> args)
    {
        var (id, prepared) = await PrepareAsync(sandbox, rootfs, args);
        await client.CreateAsync(new TaskCreateRequest
        {
            Id = id,
            Bundle = prepared.Bundle,
            Rootfs = prepared.Rootfs,
            Stdio = prepared.Stdio ?? new StdioSpec("", "", ""),
            Options = prepared.Options,
        }, CancellationToken.None);
        return id;
    }

    public async ValueTask DisposeAsync()
    {
        // Stop and Shutdown are idempotent: whatever a test left (or tore down itself) ends here, so that no shim, pause or
        // cgroup outlives the run.
        foreach (var sandbox in _sandboxes)
        {
            try
            {
                await _controller.StopAsync(sandbox, TimeSpan.FromSeconds(5), CancellationToken.None);
                await _controller.ShutdownAsync(sandbox, CancellationToken.None);
            }
            catch (IsolaException)
            {
                // the test reports its own failure
            }
        }

        if (_controller is IAsyncDisposable disposable)
        {
            await disposable.DisposeAsync();
        }

        Directory.Delete(StateRoot, recursive: true);
    }

    private sealed class ControllerRegistry : IPluginRegistry
    {
        public List<ISandboxControllerFactory> Factories { get; } = [];

        public void AddController(ISandboxControllerFactory factory) => Factories.Add(factory);

        public void AddVmm(IVmm vmm) => throw new InvalidOperationException("the shim plugin registers no VMM");

        public void AddExecutor(ITaskExecutor executor) => throw new InvalidOperationException($"the shim plugin registers no executor, yet it registered {executor.Name}");
    }

    private sealed class ExecutorServices(ITaskExecutor executor) : IPluginServices
    {
        public IVmm GetVmm(string name) => throw IsolaException.NotFound($"no VMM '{name}' in the Task API tests");

        public ITaskExecutor GetExecutor(string scheme) => executor.Schemes.Contains(scheme)
            ? executor
            : throw IsolaException.NotFound($"no executor for '{scheme}' in the Task API tests");
    }
}
