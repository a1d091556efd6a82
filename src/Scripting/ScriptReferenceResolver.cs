using System.Collections.Immutable;
using Microsoft.CodeAnalysis;

namespace Isola.Scripting;

/// <summary>
/// Resolves <c>#r</c> directives to assembly files the user names by path (relative to the file holding the
/// directive). Refuses bare assembly names, NuGet references and anything under a plugin folder: a plugin assembly
/// referenced by a script would load a second time and split its types. This is a guard against mistakes, not a
/// security boundary (scripts are full-trust code).
/// </summary>
internal sealed class ScriptReferenceResolver : MetadataReferenceResolver
{
    private readonly string _baseDirectory;
    private readonly IReadOnlyCollection<string> _deniedDirectories;
    private readonly Dictionary<string, string> _refusals = new(StringComparer.Ordinal);
    private readonly List<string> _resolved = [];

    public ScriptReferenceResolver(string baseDirectory, IReadOnlyCollection<string> deniedDirectories)
    {
        _baseDirectory = baseDirectory;
        _deniedDirectories = [.. deniedDirectories.Where(d => d.Length > 0).Select(d => Path.TrimEndingDirectorySeparator(Path.GetFullPath(d)))];
    }

    /// <summary>Why each refused reference was refused, keyed by the text of the directive.</summary>
    public IReadOnlyDictionary<string, string> Refusals => _refusals;

    /// <summary>Full paths of the assemblies the script referenced.</summary>
    public IReadOnlyList<string> Resolved => _resolved;

    public override ImmutableArray<PortableExecutableReference> ResolveReference(
        string reference, string? baseFilePath, MetadataReferenceProperties properties)
    {
        var reason = Check(reference, baseFilePath, out var fullPath);
        if (reason is not null)
        {
            _refusals[reference] = reason;
            return [];
        }

        if (!_resolved.Contains(fullPath))
        {
            _resolved.Add(fullPath);
        }

        return [MetadataReference.CreateFromFile(fullPath, properties)];
    }

    private string? Check(string reference, string? baseFilePath, out string fullPath)
    {
        fullPath = "";
        if (reference.StartsWith("nuget:", StringComparison.OrdinalIgnoreCase))
        {
            return "NuGet references are not supported; #r an assembly file by path";
        }

        if (!reference.EndsWith(".dll", StringComparison.OrdinalIgnoreCase))
        {
            return "#r takes the path of an assembly file ending in .dll";
        }

        var baseDir = baseFilePath is null ? _baseDirectory : Path.GetDirectoryName(baseFilePath) ?? _baseDirectory;
        fullPath = Path.GetFullPath(reference, baseDir);
        if (!File.Exists(fullPath))
        {
            return $"no such file: {fullPath}";
        }

        var real = new FileInfo(fullPath).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? fullPath;
        foreach (var denied in _deniedDirectories)
        {
            if (real.StartsWith(denied + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            {
                return $"it lies in the plugin folder {denied}; scripts reach plugins only through the Isola API";
            }
        }

        return null;
    }

    public override bool ResolveMissingAssemblies => false;

    public override bool Equals(object? other) => ReferenceEquals(this, other);

    public override int GetHashCode() => _baseDirectory.GetHashCode(StringComparison.Ordinal);
}
