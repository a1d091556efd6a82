using Microsoft.Extensions.Logging;

namespace Isola.Scripting;

/// <summary>
/// What a workflow script sees as top-level identifiers: <c>Isola</c>, <c>Args</c>, <c>Log</c>, <c>Ct</c> and
/// <c>ScriptPath</c>. Scripts are compiled against this type, so it must stay public and additive.
/// </summary>
public sealed class ScriptGlobals
{
    /// <summary>Creates the globals of one script run.</summary>
    public ScriptGlobals(IIsola isola, IReadOnlyList<string> args, ILogger log, CancellationToken ct, string scriptPath)
    {
        ArgumentNullException.ThrowIfNull(isola);
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(log);
        Isola = isola;
        Args = [.. args];
        Log = log;
        Ct = ct;
        ScriptPath = scriptPath;
    }

    /// <summary>The host: sandboxes (and through them containers), runtimes and plugins.</summary>
    public IIsola Isola { get; }

    /// <summary>The arguments after <c>--</c> on the <c>isola run</c> command line.</summary>
    public string[] Args { get; }

    /// <summary>A logger writing to standard error (category <c>Isola.Script</c>).</summary>
    public ILogger Log { get; }

    /// <summary>Tripped by Ctrl+C or SIGTERM (or the embedding application). Cancellation is cooperative: pass it to
    /// every Isola call and check it in loops, since nothing can abort a script that ignores it.</summary>
    public CancellationToken Ct { get; }

    /// <summary>The full path of the script being run.</summary>
    public string ScriptPath { get; }

    /// <summary>The directory of the script being run, for locating files next to it.</summary>
    public string ScriptDirectory => Path.GetDirectoryName(ScriptPath) ?? "/";

    /// <summary>
    /// Disposes <paramref name="resource"/> when the script ends, however it ends (result, exception or cancellation),
    /// in reverse order of registration: <c>var pod = Using(await Isola.Sandboxes.RunScopedAsync(spec, Ct));</c>.
    /// This is the top-level form of <c>await using var</c>, which C# scripts accept only inside a block or function.
    /// </summary>
    public T Using<T>(T resource) where T : IAsyncDisposable
    {
        ArgumentNullException.ThrowIfNull(resource);
        lock (_resources)
        {
            _resources.Add(resource);
        }

        return resource;
    }

    /// <summary>Disposes what <see cref="Using{T}"/> registered, newest first; returns the failures.</summary>
    internal async Task<IReadOnlyList<Exception>> DisposeResourcesAsync()
    {
        IAsyncDisposable[] resources;
        lock (_resources)
        {
            resources = [.. _resources];
            _resources.Clear();
        }

        var failures = new List<Exception>();
        foreach (var resource in resources.Reverse())
        {
            try
            {
                await resource.DisposeAsync().ConfigureAwait(false);
            }
            catch (Exception e)
            {
                failures.Add(e);
            }
        }

        return failures;
    }

    private readonly List<IAsyncDisposable> _resources = [];
}
