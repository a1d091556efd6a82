namespace Isola.Scripting;

/// <summary>Settings of the script runner, bound from the configuration section <c>Isola:Scripting</c>.</summary>
public sealed class ScriptingOptions
{
    /// <summary>The configuration section these options are bound from.</summary>
    public const string SectionName = "Isola:Scripting";

    /// <summary>Where compiled scripts are cached; default <c>$XDG_CACHE_HOME/isola/scripts</c>, else
    /// <c>~/.cache/isola/scripts</c>. Created with mode 0700: whoever can write it can run code as the caller.</summary>
    public string? CacheDir { get; set; }

    /// <summary>Directories a script may not <c>#r</c> assemblies from, besides the loaded plugins' own folders
    /// (which are always refused: a second copy of a plugin assembly would split its types).</summary>
    public IList<string> DeniedReferenceDirectories { get; } = [];

    /// <summary>The cache directory after applying the defaults.</summary>
    public string ResolveCacheDir()
    {
        if (!string.IsNullOrWhiteSpace(CacheDir))
        {
            return Path.GetFullPath(CacheDir);
        }

        var xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        var baseDir = !string.IsNullOrWhiteSpace(xdg) && Path.IsPathRooted(xdg)
            ? xdg
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return Path.Combine(baseDir, "isola", "scripts");
    }
}
