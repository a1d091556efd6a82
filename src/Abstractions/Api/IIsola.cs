namespace Isola;

/// <summary>
/// The public face of an Isola host, shared by the <c>isola</c> command, workflow scripts and embedding applications.
/// </summary>
public interface IIsola
{
    /// <summary>The sandboxes this host manages.</summary>
    ISandboxes Sandboxes { get; }

    /// <summary>The configured runtime handlers.</summary>
    IReadOnlyList<RuntimeInfo> Runtimes { get; }

    /// <summary>The loaded plugins.</summary>
    IReadOnlyList<PluginInfo> Plugins { get; }
}

/// <summary>A configured runtime handler.</summary>
/// <param name="Name">Its name (the key under Isola:Runtimes).</param>
/// <param name="Controller">The controller kind it uses.</param>
/// <param name="IsDefault">True for the default runtime.</param>
/// <param name="Details">What the controller reports about it (for example the detected Sandbox API generation).</param>
public sealed record RuntimeInfo(string Name, string Controller, bool IsDefault, IReadOnlyDictionary<string, string> Details);

/// <summary>A loaded plugin.</summary>
/// <param name="Name">The plugin's name.</param>
/// <param name="Directory">The folder it was loaded from; empty for plugins built into the host.</param>
/// <param name="Version">Its assembly version.</param>
/// <param name="Controllers">Controller kinds it registered.</param>
/// <param name="Vmms">VMMs it registered.</param>
/// <param name="ExecutorSchemes">Task-address schemes it serves.</param>
public sealed record PluginInfo(string Name, string Directory, string Version, IReadOnlyList<string> Controllers,
    IReadOnlyList<string> Vmms, IReadOnlyList<string> ExecutorSchemes);
