using Isola.Controllers;
using Isola.Executors;
using Isola.Plugins.TaskApi;
using Isola.Vmm;

namespace Isola.Plugins.Shim.Tests.Infrastructure;

/// <summary>The executor the Task API plugin registers, taken through its public entry type as the host takes it.</summary>
internal static class TaskApiExecutor
{
    public static ITaskExecutor Registered()
    {
        var registry = new Registry();
        new TaskApiPlugin().Register(registry);
        return Assert.Single(registry.Executors);
    }

    private sealed class Registry : IPluginRegistry
    {
        public List<ITaskExecutor> Executors { get; } = [];

        public void AddController(ISandboxControllerFactory factory) => throw new InvalidOperationException("the Task API plugin registers no controller");

        public void AddVmm(IVmm vmm) => throw new InvalidOperationException("the Task API plugin registers no VMM");

        public void AddExecutor(ITaskExecutor executor) => Executors.Add(executor);
    }
}
