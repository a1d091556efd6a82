namespace Isola.Plugins;

/// <summary>A plugin's entry point: registers the controllers, VMMs and executors it provides.</summary>
public interface IIsolaPlugin
{
    /// <summary>The plugin's name, for listings and errors.</summary>
    string Name { get; }

    /// <summary>Registers the plugin's factories. Called once, at host start. Names must be unique across plugins,
    /// or the host refuses to start.</summary>
    void Register(IPluginRegistry registry);
}
