namespace Isola.TestSupport;

/// <summary>Places in the repository, found from the running assembly: tests and benchmarks run from their build
/// output under the clone, and the repository root is the first directory above it that holds Framework.sln.</summary>
public static class RepoPaths
{
    private static readonly Lazy<string?> s_root = new(() =>
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Framework.sln")))
            {
                return dir.FullName;
            }
        }

        return null;
    });

    /// <summary>The repository root, or null when this program runs from outside a clone.</summary>
    public static string? FindRoot() => s_root.Value;

    /// <summary>The repository root.</summary>
    /// <exception cref="DirectoryNotFoundException">No Framework.sln above the program's directory.</exception>
    public static string Root => s_root.Value ?? throw new DirectoryNotFoundException($"no Framework.sln above {AppContext.BaseDirectory}");

    /// <summary>A path under the repository root: <c>RepoPaths.Combine("scripts", "examples")</c>.</summary>
    public static string Combine(params string[] parts) => Path.Combine([Root, .. parts]);

    /// <summary>The example workflow scripts, scripts/examples.</summary>
    public static string Examples => Combine("scripts", "examples");
}
