namespace Isola.Scripting;

/// <summary>A compile-time or run-time message tied to a place in a script file.</summary>
/// <param name="File">The full path of the script or <c>#load</c>ed file.</param>
/// <param name="Line">1-based line.</param>
/// <param name="Column">1-based column; 0 when unknown (run-time exceptions).</param>
/// <param name="Severity"><c>error</c> or <c>warning</c>.</param>
/// <param name="Id">The compiler id (for example <c>CS0103</c>) or the exception type name.</param>
/// <param name="Message">What is wrong.</param>
public sealed record ScriptDiagnostic(string File, int Line, int Column, string Severity, string Id, string Message)
{
    /// <summary>True for errors.</summary>
    public bool IsError => Severity == "error";

    /// <summary>The compiler-style line: <c>file:line:col: error CS0103: message</c> (no column when unknown).</summary>
    public override string ToString() =>
        Column > 0
            ? $"{File}:{Line}:{Column}: {Severity} {Id}: {Message}"
            : $"{File}:{Line}: {Severity} {Id}: {Message}";
}
