namespace Isola.Scripting;

/// <summary>Turns a script and everything it <c>#load</c>s into an assembly image. Kept behind an interface so the
/// runner's cache-hit path never touches (or even loads) Roslyn.</summary>
internal interface IScriptCompiler
{
    /// <summary>Compiles <paramref name="source"/>; refuses <c>#r</c> of assemblies under <paramref name="deniedReferenceDirectories"/>.</summary>
    CompiledScript Compile(ScriptSource source, IReadOnlyCollection<string> deniedReferenceDirectories, CancellationToken cancellationToken);
}

/// <summary>The main script as read once from disk; the same text is hashed for the cache key and compiled.</summary>
internal sealed record ScriptSource(string Path, string Text);

/// <summary>One input of a compiled script and the hash it had when compiled (<see cref="ScriptHashing"/>).</summary>
internal sealed record ScriptDependency(string Path, string Hash);

/// <summary>What the compiler produced: an image (null on errors), diagnostics, and the inputs to watch.</summary>
internal sealed record CompiledScript(
    byte[]? Image,
    IReadOnlyList<ScriptDiagnostic> Diagnostics,
    IReadOnlyList<ScriptDependency> Sources,
    IReadOnlyList<ScriptDependency> References);
