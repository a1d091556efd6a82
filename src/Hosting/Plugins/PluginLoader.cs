using System.Reflection;
using System.Runtime.Loader;
using Isola.Plugins;
using McMaster.NETCore.Plugins;
using McMaster.NETCore.Plugins.Loader;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace Isola.Hosting.Plugins;

/// <summary>
/// Loads plugin folders: <c>&lt;PluginsDir&gt;/&lt;Name&gt;/&lt;Name&gt;.dll</c>, each in its own load context
/// (McMaster.NETCore.Plugins) that shares the contract assemblies with the host. The entry type comes from
/// <see cref="IsolaPluginAttribute"/>, never from scanning types. Every failure names the folder and the reason.
/// </summary>
internal sealed class PluginFolderLoader(ILogger logger)
{
    // The contract, plus the logging and configuration abstractions that cross the plugin boundary. McMaster shares
    // each assembly's whole reference closure, so this also covers Microsoft.Extensions.Primitives and friends.
    private static readonly Type[] SharedTypes = [typeof(IIsolaPlugin), typeof(ILogger), typeof(IConfiguration)];

    // Kept alive with the host: the plugins' load contexts.
    private readonly List<object> _loaders = [];

    /// <summary>Loads every plugin folder under <paramref name="pluginsDir"/> (sorted, dot-folders skipped).</summary>
    public IReadOnlyList<(IIsolaPlugin Plugin, string Folder, string Version)> LoadAll(string pluginsDir)
    {
        var result = new List<(IIsolaPlugin, string, string)>();
        // An array sort, not LINQ's Order: its generic instantiation is JIT-compiled, ~1.5 ms of every host start.
        var folders = Directory.GetDirectories(pluginsDir);
        Array.Sort(folders, StringComparer.Ordinal);
        foreach (var folder in folders)
        {
            if (Path.GetFileName(folder).StartsWith('.'))
            {
                continue;
            }

            result.Add(Load(folder));
        }

        return result;
    }

    /// <summary>Loads one plugin folder.</summary>
    public (IIsolaPlugin Plugin, string Folder, string Version) Load(string folder)
    {
        folder = Path.GetFullPath(folder);
        var name = Path.GetFileName(folder);
        var main = Path.Combine(folder, name + ".dll");
        if (!File.Exists(main))
        {
            throw IsolaException.InvalidArgument(
                $"plugin folder '{folder}': no {name}.dll (a plugin folder is named after its main assembly)");
        }

        Assembly assembly;
        try
        {
            // Only the contract closure is shared; everything else a plugin ships (Protobuf, gRPC, ...) stays its own,
            // so a plugin never silently runs against a different version of its dependencies that the host happens to load.
            assembly = LoadMainAssembly(folder, main);
        }
        catch (BadImageFormatException e)
        {
            throw IsolaException.InvalidArgument($"plugin folder '{folder}': {name}.dll is not a .NET assembly: {e.Message}");
        }
        catch (Exception e)
        {
            throw new IsolaException(IsolaErrorCode.Internal, $"plugin folder '{folder}': cannot load {name}.dll: {e.Message}", e);
        }

        // Loading resolved none of its references and ran none of its code: refuse a newer contract before anything does.
        AbstractionsVersionGuard.Check(folder, assembly);
        if (File.Exists(Path.Combine(folder, AbstractionsVersionGuard.AbstractionsName + ".dll")))
        {
            logger.LogWarning("plugin folder '{Folder}' ships its own {Assembly}.dll; the host's copy is used " +
                "(reference it with Private=false and ExcludeAssets=runtime)", folder, AbstractionsVersionGuard.AbstractionsName);
        }

        var plugin = CreateEntry(folder, assembly);
        var version = assembly.GetName().Version?.ToString() ?? "0.0.0.0";
        return (plugin, folder, version);
    }

    /// <summary>
    /// Builds the plugin's load context with McMaster's <see cref="AssemblyLoadContextBuilder"/> (the same settings
    /// <see cref="PluginLoader.CreateFromAssemblyFile(string, Type[])"/> uses; its context resolves the plugin's
    /// .deps.json with the runtime's AssemblyDependencyResolver) unless the host or the plugin has additionalProbingPaths.
    /// Why: PluginLoader also deserialises the plugin's and every host *.runtimeconfig(.dev).json with reflection-based
    /// System.Text.Json only to find those paths, ~26 ms of every host start, and neither published plugins nor the
    /// host have any. When there are some, the full PluginLoader runs, so they are honoured as before. The host's are
    /// read from the runtime (<see cref="HostHasProbingPaths"/>), the plugin's from its runtimeconfig files.
    /// </summary>
    private Assembly LoadMainAssembly(string folder, string main)
    {
        var stem = Path.Combine(folder, Path.GetFileNameWithoutExtension(main));
        if (HostHasProbingPaths || DeclaresProbingPaths(stem + ".runtimeconfig.json"))
        {
            var loader = PluginLoader.CreateFromAssemblyFile(main, SharedTypes);
            _loaders.Add(loader);
            return loader.LoadDefaultAssembly();
        }

        var builder = new AssemblyLoadContextBuilder()
            .SetMainAssemblyPath(main)
            .SetDefaultContext(AssemblyLoadContext.GetLoadContext(typeof(PluginLoader).Assembly) ?? AssemblyLoadContext.Default);
        foreach (var type in SharedTypes)
        {
            builder.PreferDefaultLoadContextAssembly(type.Assembly.GetName());
        }

        var context = builder.Build();
        _loaders.Add(context);
        return context.LoadFromAssemblyPath(main);
    }

    /// <summary>Whether the running host has additionalProbingPaths: the host resolves those of its runtimeconfig.json
    /// and .dev.json (the existing ones) into the PROBING_DIRECTORIES property, so no file needs reading.</summary>
    private static bool HostHasProbingPaths =>
        AppContext.GetData("PROBING_DIRECTORIES") is string dirs && dirs.Split(Path.PathSeparator).Any(d => d.Length > 0);

    /// <summary>Whether a runtimeconfig.json, or the .dev.json beside it, mentions additionalProbingPaths (a text
    /// check: a false positive only costs the slow path).</summary>
    private static bool DeclaresProbingPaths(string runtimeConfig)
    {
        foreach (var file in new[] { runtimeConfig, Path.ChangeExtension(runtimeConfig, ".dev.json") })
        {
            if (File.Exists(file) && File.ReadAllText(file).Contains("additionalProbingPaths", StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Instantiates the type named by the assembly's <see cref="IsolaPluginAttribute"/>.</summary>
    public static IIsolaPlugin CreateEntry(string folder, Assembly assembly)
    {
        IsolaPluginAttribute? attribute;
        try
        {
            attribute = assembly.GetCustomAttribute<IsolaPluginAttribute>();
        }
        catch (Exception e)
        {
            throw new IsolaException(IsolaErrorCode.Internal,
                $"plugin folder '{folder}': cannot read the [assembly: IsolaPlugin] attribute: {e.Message}", e);
        }

        if (attribute is null)
        {
            throw IsolaException.InvalidArgument(
                $"plugin folder '{folder}': {assembly.GetName().Name}.dll has no [assembly: IsolaPlugin(typeof(...))] attribute naming its entry type");
        }

        var type = attribute.EntryType;
        if (!typeof(IIsolaPlugin).IsAssignableFrom(type))
        {
            throw IsolaException.InvalidArgument(
                $"plugin folder '{folder}': entry type {type.FullName} does not implement {typeof(IIsolaPlugin).FullName}");
        }

        if (type.IsAbstract || type.GetConstructor(Type.EmptyTypes) is null)
        {
            throw IsolaException.InvalidArgument(
                $"plugin folder '{folder}': entry type {type.FullName} needs a public parameterless constructor");
        }

        try
        {
            return (IIsolaPlugin)Activator.CreateInstance(type)!;
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            throw new IsolaException(IsolaErrorCode.Internal,
                $"plugin folder '{folder}': constructor of {type.FullName} failed: {e.InnerException.Message}", e.InnerException);
        }
    }
}
