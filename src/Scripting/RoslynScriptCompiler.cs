using System.Collections.Immutable;
using System.Text;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Scripting;
using Microsoft.CodeAnalysis.Emit;
using Microsoft.CodeAnalysis.Scripting;

namespace Isola.Scripting;

/// <summary>
/// Compiles a script with Roslyn and emits it once (Release, embedded portable PDB for file:line in stack traces).
/// It never runs the script: Roslyn's own runner loads every script into a non-collectible context, which leaks one
/// assembly per script (dotnet.md section 2), so the runner loads the emitted image into a collectible context itself.
/// </summary>
internal sealed class RoslynScriptCompiler : IScriptCompiler
{
    /// <summary>Namespaces every script imports.</summary>
    public static readonly IReadOnlyList<string> DefaultImports =
    [
        "System", "System.IO", "System.Linq", "System.Threading", "System.Threading.Tasks", "System.Collections.Generic",
        "System.Diagnostics", "System.Text", "Microsoft.Extensions.Logging", "Isola", "Isola.Hosting", "Isola.Scripting",
    ];

    // Unification noise from compiling against implementation assemblies (roslyn#5501).
    private static readonly ImmutableDictionary<string, ReportDiagnostic> s_suppressed =
        new[] { "CS1701", "CS1702", "CS1705" }.ToImmutableDictionary(id => id, _ => ReportDiagnostic.Suppress);

    /// <summary>Creates the compiler; a method of its own so callers JIT without touching Roslyn types.</summary>
    public static IScriptCompiler Create() => new RoslynScriptCompiler();

    public CompiledScript Compile(ScriptSource source, IReadOnlyCollection<string> deniedReferenceDirectories, CancellationToken cancellationToken)
    {
        var baseDir = Path.GetDirectoryName(source.Path) ?? "/";
        var references = new ScriptReferenceResolver(baseDir, deniedReferenceDirectories);
        var options = ScriptOptions.Default
            .WithReferences(ScriptReferenceSet.References)
            .WithImports(DefaultImports)
            .WithFilePath(source.Path)
            .WithFileEncoding(Encoding.UTF8)
            .WithSourceResolver(new SourceFileResolver(ImmutableArray<string>.Empty, baseDir))
            .WithMetadataResolver(references)
            .WithOptimizationLevel(OptimizationLevel.Release)
            .WithEmitDebugInformation(true)
            .WithAllowUnsafe(false)
            .WithLanguageVersion(LanguageVersion.Latest);

        var script = CSharpScript.Create<object>(source.Text, options, typeof(ScriptGlobals));
        var compilation = (CSharpCompilation)script.GetCompilation();
        compilation = compilation
            .WithAssemblyName("isola-script-" + Guid.NewGuid().ToString("N"))
            .WithOptions(compilation.Options
                .WithNullableContextOptions(NullableContextOptions.Enable)
                .WithSpecificDiagnosticOptions(s_suppressed));

        using var image = new MemoryStream();
        var emitted = compilation.Emit(image,
            options: new EmitOptions(debugInformationFormat: DebugInformationFormat.Embedded),
            cancellationToken: cancellationToken);

        var diagnostics = emitted.Diagnostics
            .Where(d => d.Severity >= DiagnosticSeverity.Warning && !d.IsSuppressed)
            .OrderBy(d => d.Severity == DiagnosticSeverity.Error ? 0 : 1)
            .Select(d => ToScriptDiagnostic(d, source.Path, references.Refusals))
            .ToList();

        var sources = compilation.SyntaxTrees
            .Where(t => t.FilePath.Length > 0)
            .Select(t => new ScriptDependency(t.FilePath, ScriptHashing.OfText(t.GetText(cancellationToken).ToString())))
            .DistinctBy(d => d.Path)
            .ToList();
        var assemblies = references.Resolved.Select(p => new ScriptDependency(p, ScriptHashing.OfFile(p))).ToList();

        return new CompiledScript(emitted.Success ? image.ToArray() : null, diagnostics, sources, assemblies);
    }

    private static ScriptDiagnostic ToScriptDiagnostic(Diagnostic d, string scriptPath, IReadOnlyDictionary<string, string> refusals)
    {
        var span = d.Location.GetMappedLineSpan();
        var inSource = span.IsValid && !string.IsNullOrEmpty(span.Path);
        var message = d.GetMessage(System.Globalization.CultureInfo.InvariantCulture);
        if (d.Id is "CS0006" or "CS1504")
        {
            foreach (var (reference, reason) in refusals)
            {
                if (message.Contains(reference, StringComparison.Ordinal))
                {
                    message += $" ({reason})";
                }
            }
        }

        return new ScriptDiagnostic(
            inSource ? span.Path : scriptPath,
            inSource ? span.StartLinePosition.Line + 1 : 1,
            inSource ? span.StartLinePosition.Character + 1 : 1,
            d.Severity == DiagnosticSeverity.Error ? "error" : "warning",
            d.Id,
            message);
    }
}
