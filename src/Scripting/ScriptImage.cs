using System.Diagnostics;
using System.Reflection;
using System.Runtime.CompilerServices;

namespace Isola.Scripting;

/// <summary>
/// Runs an emitted script image in a fresh collectible context: <see cref="Load"/> loads it and finds
/// <c>Submission#0.&lt;Factory&gt;</c>; <see cref="RunAsync"/> calls it with the globals and awaits the result; disposing
/// the <see cref="Loaded"/> script unloads the context. Nothing that references the script's types (its return value,
/// the exception object, a delegate) leaves this class, so the context can be collected.
/// </summary>
internal static class ScriptImage
{
    private const string SubmissionType = "Submission#0";
    private const string FactoryMethod = "<Factory>";

    /// <summary>Thrown when the image cannot be loaded or has no entry point: the cache entry is bad, rebuild it.</summary>
    internal sealed class UnusableImageException(string message, Exception? inner = null) : Exception(message, inner);

    /// <summary>What a run produced, as plain values.</summary>
    internal sealed record Outcome(ScriptOutcome Kind, int ExitCode, string? Error, string? ErrorDetail, ScriptDiagnostic? Location);

    /// <summary>A script image loaded into its own context, to run once; disposing it unloads the context.</summary>
    internal sealed class Loaded : IDisposable
    {
        private readonly ScriptLoadContext _context;
        private int _unloaded;

        internal Loaded(ScriptLoadContext context, MethodInfo factory, ScriptManifest manifest)
        {
            _context = context;
            Factory = factory;
            Manifest = manifest;
        }

        internal MethodInfo Factory { get; }

        internal ScriptManifest Manifest { get; }

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _unloaded, 1) == 0)
            {
                _context.Unload();
            }
        }
    }

    /// <summary>Loads <paramref name="image"/> into a new context; needs no host, so it can happen while one starts.</summary>
    /// <exception cref="UnusableImageException">The image is not a loadable script.</exception>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static Loaded Load(byte[] image, ScriptManifest manifest, string scriptPath)
    {
        var context = new ScriptLoadContext("isola-script:" + Path.GetFileName(scriptPath), [.. manifest.References.Select(r => r.Path)]);
        try
        {
            return new Loaded(context, LoadFactory(context, image), manifest);
        }
        catch
        {
            context.Unload();
            throw;
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    public static async Task<Outcome> RunAsync(Loaded script, ScriptGlobals globals, CancellationToken cancellationToken)
    {
        var (factory, manifest) = (script.Factory, script.Manifest);

        // Started on the thread pool so the script's awaits never capture the caller's SynchronizationContext
        // (a UI thread, or a test runner's limited context): a script must not be able to stall its host's threads.
        var run = Task.Run(() =>
        {
            try
            {
                return (Task<object?>)factory.Invoke(null, [new object?[] { globals, null }])!;
            }
            catch (TargetInvocationException e) when (e.InnerException is not null)
            {
                return Task.FromException<object?>(e.InnerException);
            }
        });

        Outcome outcome;
        try
        {
            var value = await run.ConfigureAwait(false);
            outcome = new Outcome(ScriptOutcome.Succeeded, value is int code ? code : 0, null, null, null);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            outcome = new Outcome(ScriptOutcome.Cancelled, 130, "the script was cancelled", null, null);
        }
        catch (Exception e)
        {
            outcome = Describe(e, manifest);
        }

        return await TearDownAsync(globals, outcome, manifest).ConfigureAwait(false);
    }

    /// <summary>Disposes the script's registered resources; a teardown failure fails an otherwise successful run.</summary>
    private static async Task<Outcome> TearDownAsync(ScriptGlobals globals, Outcome outcome, ScriptManifest manifest)
    {
        var failures = await globals.DisposeResourcesAsync().ConfigureAwait(false);
        if (failures.Count == 0)
        {
            return outcome;
        }

        if (outcome.Kind == ScriptOutcome.Succeeded)
        {
            return Describe(failures.Count == 1 ? failures[0] : new AggregateException("teardown failed", failures), manifest);
        }

        return outcome with { ErrorDetail = outcome.ErrorDetail + "\nteardown also failed:\n" + string.Join('\n', failures) };
    }

    private static Outcome Describe(Exception e, ScriptManifest manifest)
    {
        var scriptFiles = manifest.Sources.Select(s => s.Path).ToHashSet(StringComparer.Ordinal);
        return new Outcome(ScriptOutcome.Failed, 1, $"{e.GetType().Name}: {e.Message}", e.ToString(), Locate(e, scriptFiles));
    }

    private static MethodInfo LoadFactory(ScriptLoadContext context, byte[] image)
    {
        try
        {
            using var stream = new MemoryStream(image, writable: false);
            var assembly = context.LoadFromStream(stream);
            return assembly.GetType(SubmissionType, throwOnError: false)
                ?.GetMethod(FactoryMethod, BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static)
                ?? throw new UnusableImageException($"the image has no {SubmissionType}.{FactoryMethod}");
        }
        catch (BadImageFormatException e)
        {
            throw new UnusableImageException(e.Message, e);
        }
    }

    /// <summary>The innermost script frame of the exception (or of its inner exceptions): where the script failed.</summary>
    private static ScriptDiagnostic? Locate(Exception exception, IReadOnlySet<string> scriptFiles)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            foreach (var frame in new StackTrace(e, fNeedFileInfo: true).GetFrames())
            {
                var file = frame.GetFileName();
                if (file is not null && scriptFiles.Contains(file) && frame.GetFileLineNumber() > 0)
                {
                    return new ScriptDiagnostic(file, frame.GetFileLineNumber(), frame.GetFileColumnNumber(), "error",
                        exception.GetType().Name, exception.Message);
                }
            }
        }

        return null;
    }
}
