using Isola.Plugins;

namespace Isola.Scripting.Tests;

/// <summary>Stands for a plugin's implementation type: public, but in an assembly scripts are not compiled against.</summary>
public sealed class InProcessTestPlugin : IIsolaPlugin
{
    public string Name => "in-process-test";

    public void Register(IPluginRegistry registry)
    {
    }
}
