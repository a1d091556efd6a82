namespace Isola.Scripting.Tests;

/// <summary>A unique temp directory with a scripts folder and a private script cache; deleted on dispose.</summary>
internal sealed class ScriptWorkspace : IDisposable
{
    public ScriptWorkspace()
    {
        Root = Path.Combine(Path.GetTempPath(), "isola-scripting-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Scripts);
    }

    public string Root { get; }

    public string Scripts => Path.Combine(Root, "scripts");

    public string CacheDir => Path.Combine(Root, "cache");

    public ScriptingOptions Options => new() { CacheDir = CacheDir };

    /// <summary>Writes a script (or #load-ed file) under the scripts folder and returns its full path.</summary>
    public string Write(string relativePath, string text)
    {
        var path = Path.Combine(Scripts, relativePath);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
        return path;
    }

    /// <summary>The cache entries (one directory per compiled script).</summary>
    public string[] CacheEntries() =>
        Directory.Exists(CacheDir) ? Directory.GetDirectories(CacheDir).Where(d => !Path.GetFileName(d).StartsWith('.')).ToArray() : [];

    public void Dispose()
    {
        if (Directory.Exists(Root))
        {
            Directory.Delete(Root, recursive: true);
        }
    }
}

/// <summary>Counts compiler invocations, so tests observe whether a run compiled or came from the cache.</summary>
internal sealed class CountingCompiler : IScriptCompiler
{
    private readonly IScriptCompiler _inner = RoslynScriptCompiler.Create();
    private int _count;

    public int Count => Volatile.Read(ref _count);

    public CompiledScript Compile(ScriptSource source, IReadOnlyCollection<string> deniedReferenceDirectories, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _count);
        return _inner.Compile(source, deniedReferenceDirectories, cancellationToken);
    }
}
