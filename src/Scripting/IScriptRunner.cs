namespace Isola.Scripting;

/// <summary>Compiles (once, cached on disk) and runs <c>.csx</c> workflow scripts against an <see cref="IIsola"/>.</summary>
public interface IScriptRunner
{
    /// <summary>
    /// Runs the script at <paramref name="scriptPath"/> with <paramref name="args"/> as <c>Args</c>. Compile errors,
    /// uncaught exceptions and cancellation come back as the result's outcome, never as exceptions; a missing script
    /// file throws <see cref="IsolaErrorCode.NotFound"/> naming it.
    /// </summary>
    Task<ScriptRunResult> RunAsync(string scriptPath, IReadOnlyList<string> args, CancellationToken cancellationToken = default);
}
