using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace Isola.Scripting;

/// <summary>
/// The only assemblies a script compiles against: Isola.Abstractions, the public API of Isola.Hosting and of
/// Isola.Scripting (the globals, scoped sandboxes), the logging and configuration abstractions, and an allow-listed
/// part of the BCL. Plugin assemblies are never on the list, so a
/// script cannot name a plugin's implementation types.
/// </summary>
internal static class ScriptReferenceSet
{
    /// <summary>BCL assemblies (by simple name) a workflow may need: collections, LINQ, tasks, files, processes,
    /// JSON, regular expressions, sockets and HTTP for readiness probes.</summary>
    public static readonly IReadOnlyList<string> AllowedBcl =
    [
        "System.Private.CoreLib", "System.Runtime", "System.Console", "System.Collections", "System.Collections.Concurrent",
        "System.Linq", "System.Threading", "System.Threading.Tasks", "System.Threading.Channels", "System.IO",
        "System.Memory", "System.Text.Json", "System.Text.RegularExpressions", "System.Diagnostics.Process",
        "System.ComponentModel.Primitives", "System.Net.Primitives", "System.Net.Sockets", "System.Net.Http",
        "System.ObjectModel", "System.Runtime.InteropServices", "Microsoft.Win32.Primitives", "System.Private.Uri",
    ];

    private static readonly Lazy<ImmutableArray<MetadataReference>> s_references = new(Build);

    /// <summary>The references, created once per process (creating them is a large part of a first compile).</summary>
    public static ImmutableArray<MetadataReference> References => s_references.Value;

    private static ImmutableArray<MetadataReference> Build()
    {
        var platform = ((AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES") as string) ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .GroupBy(p => Path.GetFileNameWithoutExtension(p), StringComparer.OrdinalIgnoreCase)
            .ToDictionary(g => g.Key, g => g.First(), StringComparer.OrdinalIgnoreCase);

        var paths = new List<string>();
        foreach (var name in AllowedBcl)
        {
            paths.Add(platform.TryGetValue(name, out var path) ? path : LocationOf(System.Reflection.Assembly.Load(name)));
        }

        paths.Add(LocationOf(typeof(IIsola).Assembly));
        paths.Add(LocationOf(typeof(Hosting.IsolaHost).Assembly));
        paths.Add(LocationOf(typeof(ScriptGlobals).Assembly));
        paths.Add(LocationOf(typeof(ILogger).Assembly));
        paths.Add(LocationOf(typeof(IConfiguration).Assembly));
        return [.. paths.Distinct(StringComparer.Ordinal).Select(p => (MetadataReference)MetadataReference.CreateFromFile(p))];
    }

    private static string LocationOf(System.Reflection.Assembly assembly) =>
        string.IsNullOrEmpty(assembly.Location)
            ? throw IsolaException.FailedPrecondition(
                $"scripting needs {assembly.GetName().Name} as a file on disk to compile against (single-file publishing is not supported)")
            : assembly.Location;
}
