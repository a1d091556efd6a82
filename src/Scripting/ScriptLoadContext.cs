using System.Reflection;
using System.Runtime.Loader;

namespace Isola.Scripting;

/// <summary>
/// A collectible context holding one script run's assembly and the assemblies it <c>#r</c>s. Everything else
/// (Isola.Abstractions, Isola.Hosting, Isola.Scripting, the BCL) resolves to the context that loaded Isola.Scripting,
/// so the script shares the host's types. Unloaded when the run ends; it is collected once nothing from the script is referenced any more.
/// </summary>
internal sealed class ScriptLoadContext : AssemblyLoadContext
{
    private readonly IReadOnlyList<string> _references;
    private readonly AssemblyLoadContext _hostContext;

    public ScriptLoadContext(string name, IReadOnlyList<string> references)
        : base(name, isCollectible: true)
    {
        _references = references;
        _hostContext = GetLoadContext(typeof(ScriptGlobals).Assembly) ?? Default;
    }

    protected override Assembly? Load(AssemblyName assemblyName)
    {
        foreach (var path in _references)
        {
            if (string.Equals(Path.GetFileNameWithoutExtension(path), assemblyName.Name, StringComparison.OrdinalIgnoreCase))
            {
                return LoadFromAssemblyPath(path);
            }
        }

        // A dependency of a #r'd assembly, shipped next to it.
        foreach (var dir in _references.Select(Path.GetDirectoryName).Distinct())
        {
            var candidate = Path.Combine(dir ?? "", assemblyName.Name + ".dll");
            if (dir is not null && File.Exists(candidate) && !IsHostAssembly(assemblyName))
            {
                return LoadFromAssemblyPath(candidate);
            }
        }

        return ReferenceEquals(_hostContext, Default) ? null : _hostContext.LoadFromAssemblyName(assemblyName);
    }

    private bool IsHostAssembly(AssemblyName name) =>
        _hostContext.Assemblies.Any(a => string.Equals(a.GetName().Name, name.Name, StringComparison.OrdinalIgnoreCase));
}
