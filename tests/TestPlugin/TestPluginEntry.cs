using Isola.Plugins;

[assembly: IsolaPlugin(typeof(Isola.TestPlugin.TestPluginEntry))]

namespace Isola.TestPlugin;

/// <summary>Registers the "filetest" controller and the "test" task-address scheme.</summary>
public sealed class TestPluginEntry : IIsolaPlugin
{
    /// <inheritdoc />
    public string Name => "testplugin";

    /// <inheritdoc />
    public void Register(IPluginRegistry registry)
    {
        registry.AddController(new FileControllerFactory());
        registry.AddExecutor(new ScriptedTaskExecutor());
    }
}
