using Microsoft.Extensions.Logging;

namespace Isola.Scripting;

/// <summary>
/// Compiled scripts on disk. An entry lives in <c>CacheDir/&lt;key&gt;/</c> (<c>manifest</c> + <c>script.dll</c>),
/// where the key is a hash (<see cref="ScriptHashing"/>) over the toolchain identity, the script's full path and its
/// text. The manifest then pins every <c>#load</c>ed file and <c>#r</c>ed assembly by hash, so the effective key covers
/// all of them; the image's own hash is checked before each load, so a torn or corrupted entry is rebuilt rather than run.
/// </summary>
internal sealed class ScriptCache
{
    /// <summary>Bumped whenever the entry layout or the way scripts are compiled changes (4: scripts compile against
    /// Isola.Scripting as well as Isola.Hosting, since the globals moved out of the host).</summary>
    public const int FormatVersion = 4;

    private const string ManifestFile = "manifest";
    private const string ImageFile = "script.dll";

    private readonly ILogger _logger;

    public ScriptCache(string directory, ILogger logger)
    {
        Directory = directory;
        _logger = logger;
    }

    public string Directory { get; }

    /// <summary>The identity of everything besides the sources that shapes a compiled image. Read from metadata only,
    /// so computing it loads no compiler.</summary>
    public static string Toolchain { get; } = string.Join('|',
        "format=" + FormatVersion,
        "runtime=" + Environment.Version,
        "host=" + typeof(Hosting.IsolaHost).Assembly.ManifestModule.ModuleVersionId,
        "scripting=" + typeof(ScriptGlobals).Assembly.ManifestModule.ModuleVersionId,
        "abstractions=" + typeof(IIsola).Assembly.ManifestModule.ModuleVersionId,
        "roslyn=" + typeof(ScriptCache).Assembly.GetReferencedAssemblies()
            .FirstOrDefault(a => a.Name == "Microsoft.CodeAnalysis.CSharp.Scripting")?.Version);

    public static string KeyOf(ScriptSource source) =>
        ScriptHashing.OfText(Toolchain + "\n" + source.Path + "\n" + source.Text);

    /// <summary>Looks an entry up and checks it fully; never throws for a bad entry.</summary>
    public CacheLookup Lookup(string key, ScriptSource source)
    {
        var dir = Path.Combine(Directory, key);
        if (!IsTrusted(dir))
        {
            return CacheLookup.Missing(ScriptCacheStatus.Untrusted);
        }

        var manifestPath = Path.Combine(dir, ManifestFile);
        if (!File.Exists(manifestPath))
        {
            return CacheLookup.Missing(ScriptCacheStatus.Miss);
        }

        try
        {
            var manifest = ScriptManifest.Parse(File.ReadAllText(manifestPath));
            if (manifest.Format != FormatVersion || manifest.Toolchain != Toolchain || manifest.Sources.Count == 0)
            {
                return Corrupt(dir, "its manifest does not match this version of Isola");
            }

            var changed = FirstChanged(manifest, source);
            if (changed is not null)
            {
                _logger.LogDebug("Cached script {Key} is stale: {File} changed", key, changed);
                return CacheLookup.Missing(ScriptCacheStatus.Stale);
            }

            var image = File.ReadAllBytes(Path.Combine(dir, ImageFile));
            return ScriptHashing.OfBytes(image) == manifest.ImageHash
                ? new CacheLookup(ScriptCacheStatus.Hit, image, manifest)
                : Corrupt(dir, "its image does not match the recorded hash");
        }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException or FormatException)
        {
            return Corrupt(dir, e.Message);
        }
    }

    /// <summary>Writes an entry atomically (temp directory, then rename); a failure only costs the next run a compile.</summary>
    public void Store(string key, byte[] image, CompiledScript compiled)
    {
        var manifest = new ScriptManifest(FormatVersion, Toolchain, ScriptHashing.OfBytes(image),
            compiled.Sources, compiled.References, DateTimeOffset.UtcNow);
        var target = Path.Combine(Directory, key);
        var temp = Path.Combine(Directory, ".tmp-" + Guid.NewGuid().ToString("N"));
        if (!IsTrusted(target, warn: false))
        {
            return; // the lookup before the compile said why
        }

        try
        {
            PrivateDirectory.Create(Directory);
            PrivateDirectory.Create(temp);
            File.WriteAllBytes(Path.Combine(temp, ImageFile), image);
            File.WriteAllText(Path.Combine(temp, ManifestFile), manifest.Serialize());
            if (System.IO.Directory.Exists(target))
            {
                System.IO.Directory.Delete(target, recursive: true);
            }

            System.IO.Directory.Move(temp, target);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            // Another process may have stored the same entry first; either way the script still runs.
            _logger.LogWarning("Could not store compiled script in {CacheDir}: {Error}", Directory, e.Message);
        }
        finally
        {
            TryDelete(temp);
        }
    }

    /// <summary>Drops an entry whose image turned out unloadable, so the next lookup misses.</summary>
    public void Evict(string key, string reason)
    {
        _logger.LogWarning("Cached script {Key} is unusable ({Reason}); rebuilding it", key, reason);
        TryDelete(Path.Combine(Directory, key));
    }

    private CacheLookup Corrupt(string dir, string reason)
    {
        _logger.LogWarning("Cache entry {Entry} is corrupt ({Reason}); rebuilding it", dir, reason);
        TryDelete(dir);
        return CacheLookup.Missing(ScriptCacheStatus.Corrupt);
    }

    /// <summary>
    /// A cached image is loaded and run as this user, so whoever can write the cache can run code as them. The cache
    /// directory and the entry's directory must therefore be owned by this user and not writable by group or others
    /// (a missing one is fine: it is created 0700). Checked before anything in them is read; an untrusted cache is
    /// not used at all, with a warning saying how to fix it.
    /// </summary>
    private bool IsTrusted(string entry, bool warn = true)
    {
        foreach (var dir in (string[])[Directory, entry])
        {
            string? problem;
            try
            {
                problem = PrivateDirectory.WhyUntrusted(dir);
            }
            catch (IOException e)
            {
                problem = e.Message;
            }

            if (problem is not null)
            {
                if (!warn)
                {
                    return false;
                }

                _logger.LogWarning(
                    "Not using the script cache: {Dir}: {Problem}; compiled scripts run as you, so make it yours and chmod 700 it, or set Isola:Scripting:CacheDir",
                    dir, problem);
                return false;
            }
        }

        return true;
    }

    private static string? FirstChanged(ScriptManifest manifest, ScriptSource source)
    {
        foreach (var dep in manifest.Sources)
        {
            var text = dep.Path == source.Path ? source.Text : File.Exists(dep.Path) ? File.ReadAllText(dep.Path) : null;
            if (text is null || ScriptHashing.OfText(text) != dep.Hash)
            {
                return dep.Path;
            }
        }

        return manifest.References.FirstOrDefault(r => !File.Exists(r.Path) || ScriptHashing.OfFile(r.Path) != r.Hash)?.Path;
    }

    private static void TryDelete(string dir)
    {
        try
        {
            if (System.IO.Directory.Exists(dir))
            {
                System.IO.Directory.Delete(dir, recursive: true);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Best effort: a leftover temp directory is harmless and the next store replaces a bad entry.
        }
    }
}

/// <summary>The outcome of a cache lookup: a verified image and its manifest on a hit.</summary>
internal sealed record CacheLookup(ScriptCacheStatus Status, byte[]? Image, ScriptManifest? Manifest)
{
    public static CacheLookup Missing(ScriptCacheStatus status) => new(status, null, null);
}
