using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Isola.Scripting;

/// <summary>
/// Runs workflow scripts: cache lookup, compile on a miss (the only path that loads Roslyn), then one collectible
/// context per run. Safe to share: runs are independent and may overlap.
/// </summary>
internal sealed class ScriptRunner : IScriptRunner
{
    private readonly Task<IIsola> _isola;
    private readonly ScriptingOptions _options;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly ScriptCache _cache;
    private readonly Func<IScriptCompiler> _compilerFactory;
    private readonly Lock _compilerLock = new();
    private IScriptCompiler? _compiler;

    public ScriptRunner(IIsola isola, ScriptingOptions options, ILoggerFactory? loggerFactory, Func<IScriptCompiler>? compilerFactory = null)
        : this(Task.FromResult(isola), options, loggerFactory, compilerFactory)
    {
    }

    /// <summary>A runner whose host may still be starting: a run reads and verifies its cached script meanwhile, and
    /// awaits <paramref name="isola"/> only to compile (the plugin folders) or run; a host that fails to start fails the
    /// run with the host's error.</summary>
    public ScriptRunner(Task<IIsola> isola, ScriptingOptions options, ILoggerFactory? loggerFactory, Func<IScriptCompiler>? compilerFactory = null)
    {
        _isola = isola;
        _options = options;
        _loggerFactory = loggerFactory ?? NullLoggerFactory.Instance;
        _logger = _loggerFactory.CreateLogger("Isola.Scripting");
        _cache = new ScriptCache(options.ResolveCacheDir(), _logger);
        _compilerFactory = compilerFactory ?? RoslynScriptCompiler.Create;
    }

    /// <summary>The cache directory in use.</summary>
    public string CacheDirectory => _cache.Directory;

    public async Task<ScriptRunResult> RunAsync(string scriptPath, IReadOnlyList<string> args, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(scriptPath);
        ArgumentNullException.ThrowIfNull(args);
        var started = Stopwatch.GetTimestamp();
        var fullPath = Path.GetFullPath(scriptPath);
        if (!File.Exists(fullPath))
        {
            throw IsolaException.NotFound($"script '{fullPath}' not found");
        }

        var source = new ScriptSource(fullPath, File.ReadAllText(fullPath));
        var key = ScriptCache.KeyOf(source);
        var lookup = _cache.Lookup(key, source);
        var status = lookup.Status;
        var loaded = lookup.Image is null || lookup.Manifest is null ? null : TryLoad(key, lookup.Image, lookup.Manifest, fullPath);
        if (loaded is null && status == ScriptCacheStatus.Hit)
        {
            status = ScriptCacheStatus.Corrupt;
        }

        ScriptImage.Outcome outcome;
        IReadOnlyList<ScriptDiagnostic> warnings = [];
        try
        {
            // Everything above needs no host, so `isola run` does it while its host starts.
            var isola = await _isola.ConfigureAwait(false);
            if (loaded is null)
            {
                var built = Build(isola, key, source, cancellationToken);
                if (built.Image is null || built.Manifest is null)
                {
                    return new ScriptRunResult { ExitCode = 1, Outcome = ScriptOutcome.CompileError, Cache = status, Diagnostics = built.Diagnostics };
                }

                warnings = built.Diagnostics;
                loaded = ScriptImage.Load(built.Image, built.Manifest, fullPath);
            }

            var globals = new ScriptGlobals(isola, args, _loggerFactory.CreateLogger("Isola.Script"), cancellationToken, fullPath);
            outcome = await ScriptImage.RunAsync(loaded, globals, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            loaded?.Dispose();
        }

        if (_logger.IsEnabled(LogLevel.Debug))
        {
            _logger.LogDebug("Ran {Script} ({Cache}) in {Elapsed:F0} ms; compiler loaded in this process: {CompilerLoaded}",
                fullPath, status, Stopwatch.GetElapsedTime(started).TotalMilliseconds, CompilerLoaded());
        }

        return new ScriptRunResult
        {
            ExitCode = outcome.ExitCode,
            Outcome = outcome.Kind,
            Cache = status,
            Diagnostics = outcome.Location is null ? warnings : [.. warnings, outcome.Location],
            Error = outcome.Error,
            ErrorDetail = outcome.ErrorDetail,
        };
    }

    /// <summary>Loads a cached image; one that turns out unloadable is evicted (null: rebuild it).</summary>
    private ScriptImage.Loaded? TryLoad(string key, byte[] image, ScriptManifest manifest, string scriptPath)
    {
        try
        {
            return ScriptImage.Load(image, manifest, scriptPath);
        }
        catch (ScriptImage.UnusableImageException e)
        {
            _cache.Evict(key, e.Message);
            return null;
        }
    }

    /// <summary>Compiles and stores the script; the lookup-shaped result carries the image (null on errors).</summary>
    private BuildResult Build(IIsola isola, string key, ScriptSource source, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var denied = isola.Plugins.Select(p => p.Directory).Concat(_options.DeniedReferenceDirectories)
            .Where(d => !string.IsNullOrEmpty(d)).ToList();
        var compiled = Compiler.Compile(source, denied, cancellationToken);
        _logger.LogDebug("Compiled {Script} in {Elapsed:F0} ms", source.Path, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        if (compiled.Image is null)
        {
            return new BuildResult(null, null, compiled.Diagnostics);
        }

        _cache.Store(key, compiled.Image, compiled);
        var manifest = new ScriptManifest(ScriptCache.FormatVersion, ScriptCache.Toolchain, "", compiled.Sources, compiled.References, DateTimeOffset.UtcNow);
        return new BuildResult(compiled.Image, manifest, compiled.Diagnostics);
    }

    /// <summary>Whether Roslyn is loaded: a cache hit in a fresh process should leave it unloaded.</summary>
    internal static bool CompilerLoaded() =>
        AppDomain.CurrentDomain.GetAssemblies().Any(a => a.GetName().Name == "Microsoft.CodeAnalysis");

    private IScriptCompiler Compiler
    {
        get
        {
            lock (_compilerLock)
            {
                return _compiler ??= _compilerFactory();
            }
        }
    }

    private sealed record BuildResult(byte[]? Image, ScriptManifest? Manifest, IReadOnlyList<ScriptDiagnostic> Diagnostics);
}
