using Isola.Plugins;
using Isola.Plugins.TaskApi;

[assembly: IsolaPlugin(typeof(TaskApiPlugin))]

namespace Isola.Plugins.TaskApi;

/// <summary>
/// Registers the Task API executor for every ttrpc task address (Unix socket, vsock, hybrid vsock): the one way the
/// host reaches the containers of a shim pod, a VM's guest agent, or a sandboxer's sandbox. Controllers that need a
/// task of their own (the <c>shim</c> controller's pause) borrow it through <see cref="IPluginServices.GetExecutor"/>.
/// </summary>
public sealed class TaskApiPlugin : IIsolaPlugin
{
    /// <summary>Deadline of every call but Wait that has no tighter one.</summary>
    private static readonly TimeSpan DefaultCallTimeout = TimeSpan.FromSeconds(30);

    /// <inheritdoc />
    public string Name => "task-api";

    /// <inheritdoc />
    public void Register(IPluginRegistry registry) => registry.AddExecutor(new TtrpcTaskExecutor(DefaultCallTimeout));
}
