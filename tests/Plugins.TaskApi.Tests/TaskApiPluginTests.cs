using Isola.Controllers;
using Isola.Executors;
using Isola.Vmm;

namespace Isola.Plugins.TaskApi.Tests;

/// <summary>What the plugin registers: one executor, for every ttrpc form of a task address, and nothing else.</summary>
public sealed class TaskApiPluginTests
{
    [Fact]
    public void Registers_the_ttrpc_executor_for_every_scheme_a_shim_vm_or_sandboxer_sandbox_reports()
    {
        var registry = new RecordingRegistry();
        var plugin = new TaskApiPlugin();

        plugin.Register(registry);

        Assert.Equal("task-api", plugin.Name);
        Assert.Empty(registry.Others);
        var executor = Assert.IsType<TtrpcTaskExecutor>(Assert.Single(registry.Executors));
        Assert.Equal("ttrpc-task", executor.Name);
        Assert.Equal(["hvsock", "ttrpc+hvsock", "ttrpc+unix", "ttrpc+vsock", "unix", "vsock"], executor.Schemes.Order(StringComparer.Ordinal));
    }

    private sealed class RecordingRegistry : IPluginRegistry
    {
        public List<ITaskExecutor> Executors { get; } = [];

        public List<string> Others { get; } = [];

        public void AddController(ISandboxControllerFactory factory) => Others.Add("controller " + factory.Name);

        public void AddVmm(IVmm vmm) => Others.Add("VMM " + vmm.Name);

        public void AddExecutor(ITaskExecutor executor) => Executors.Add(executor);
    }
}
