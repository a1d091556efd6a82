namespace Isola.Scripting;

/// <summary>How a script run ended.</summary>
public enum ScriptOutcome
{
    /// <summary>The script ran to the end; its int result (0 otherwise) is the exit code.</summary>
    Succeeded,
    /// <summary>The script (or a file it loads) did not compile; nothing ran. Exit code 1.</summary>
    CompileError,
    /// <summary>The script threw an exception it did not catch. Exit code 1.</summary>
    Failed,
    /// <summary>The run was cancelled (Ctrl+C, SIGTERM or the caller's token) and the script stopped. Exit code 130.</summary>
    Cancelled,
}

/// <summary>Whether a run used the compiled-script cache.</summary>
public enum ScriptCacheStatus
{
    /// <summary>A valid cached assembly ran; the compiler was not invoked.</summary>
    Hit,
    /// <summary>No entry existed; the script was compiled and stored.</summary>
    Miss,
    /// <summary>The entry was built from other sources (the script or a file it loads changed) and was replaced.</summary>
    Stale,
    /// <summary>The entry could not be read or failed its integrity check; it was rebuilt.</summary>
    Corrupt,
    /// <summary>The cache directory is not owned by this user or is writable by others, so anyone could have planted an
    /// assembly there: it was neither read nor written, and the script was compiled for this run only.</summary>
    Untrusted,
}

/// <summary>The result of one script run.</summary>
public sealed record ScriptRunResult
{
    /// <summary>The process exit code this run stands for.</summary>
    public required int ExitCode { get; init; }

    /// <summary>How the run ended.</summary>
    public required ScriptOutcome Outcome { get; init; }

    /// <summary>Whether the compiler ran.</summary>
    public required ScriptCacheStatus Cache { get; init; }

    /// <summary>Compiler errors and warnings, or the location of an uncaught exception, in
    /// <c>file:line:col: severity id: message</c> form.</summary>
    public IReadOnlyList<ScriptDiagnostic> Diagnostics { get; init; } = [];

    /// <summary>One line describing the failure (exception type and message) when <see cref="Outcome"/> is
    /// <see cref="ScriptOutcome.Failed"/>; the exception itself is not kept, because it would pin the script's
    /// collectible assembly in memory.</summary>
    public string? Error { get; init; }

    /// <summary>The failure's full text (exception chain with script file and line numbers), for verbose output.</summary>
    public string? ErrorDetail { get; init; }
}
