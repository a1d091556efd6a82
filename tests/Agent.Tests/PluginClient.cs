using Isola.Controllers;
using Isola.Executors;
using Isola.Plugins;
using Isola.Plugins.TaskApi;
using Isola.Vmm;

namespace Isola.Agent.Tests;

/// <summary>The host's own Task API client for an agent: the task-api plugin's executor, registered as the host
/// registers it, dialling the agent's Unix socket.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
internal static class PluginClient
{
    public static Task<ITaskClient> ConnectAsync(AgentProcess agent)
    {
        var registry = new Registry();
        new TaskApiPlugin().Register(registry);
        var executor = Assert.Single(registry.Executors);
        return executor.ConnectAsync(TaskEndpoint.Parse("ttrpc+unix://" + Path.Combine(agent.Dir, "agent.sock"), 2), default);
    }

    /// <summary>What the host's plugin loader hands a plugin, keeping only executors.</summary>
    private sealed class Registry : IPluginRegistry
    {
        public List<ITaskExecutor> Executors { get; } = [];

        public void AddController(ISandboxControllerFactory factory) => throw new NotSupportedException("the task-api plugin registers no controller");

        public void AddVmm(IVmm vmm) => throw new NotSupportedException("the task-api plugin registers no VMM");

        public void AddExecutor(ITaskExecutor executor) => Executors.Add(executor);
    }
}
