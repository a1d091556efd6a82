using System.Text.Json.Nodes;
using Isola.Controllers;
using Isola.Executors;
using Isola.Plugins;
using Isola.Vmm;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;

namespace Isola.Plugins.Sandboxer.Tests;

/// <summary>Builds sandboxer controllers the way the host does: through the plugin's registered factory.</summary>
internal static class ControllerHarness
{
    public static ISandboxController Create(string address, string? api = "auto", string sandboxer = "vmm",
        string? timeout = null, string runtimeName = "kuasar-vmm")
    {
        var registry = new CapturingRegistry();
        new SandboxerPlugin().Register(registry);
        return registry.Factory!.Create(Context(address, api, sandboxer, timeout, runtimeName));
    }

    public static ControllerContext Context(string? address, string? api = "auto", string? sandboxer = "vmm",
        string? timeout = null, string runtimeName = "kuasar-vmm")
    {
        var options = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Address"] = address,
            ["Api"] = api,
            ["Sandboxer"] = sandboxer,
            ["Timeout"] = timeout,
        }).Build();
        return new ControllerContext(runtimeName, options, $"Isola:Runtimes:{runtimeName}:Options", Path.GetTempPath(),
            NullLoggerFactory.Instance, new NoServices());
    }

    public static SandboxContext Sandbox(SandboxId id, SandboxSpec? spec = null, IDictionary<string, string>? data = null, JsonObject? state = null) =>
        new(id, "pod-" + id, spec ?? new SandboxSpec { Id = id }, Path.GetTempPath(), data ?? new Dictionary<string, string>())
        {
            ControllerState = state ?? [],
        };

    /// <summary>What a new host process hands back: copies of the persisted controller data and state.</summary>
    public static SandboxContext Reloaded(SandboxContext sandbox) =>
        Sandbox(sandbox.Id, sandbox.Spec, new Dictionary<string, string>(sandbox.ControllerData), (JsonObject)sandbox.ControllerState.DeepClone());

    public static string NewId() => "sb-" + Guid.NewGuid().ToString("N")[..10];

    private sealed class CapturingRegistry : IPluginRegistry
    {
        public ISandboxControllerFactory? Factory { get; private set; }

        public void AddController(ISandboxControllerFactory factory) => Factory = factory;

        public void AddVmm(IVmm vmm) => throw new NotSupportedException();

        public void AddExecutor(ITaskExecutor executor) => throw new NotSupportedException();
    }

    private sealed class NoServices : IPluginServices
    {
        public IVmm GetVmm(string name) => throw IsolaException.NotFound(name);

        public ITaskExecutor GetExecutor(string scheme) => throw IsolaException.NotFound(scheme);
    }
}
