using System.Text.Json.Serialization;

namespace Isola.Hosting.Scripting;

/// <summary>The record next to a cached script image: what it was built from and the image's own hash.</summary>
/// <param name="Format">The cache layout version, <see cref="ScriptCache.FormatVersion"/>.</param>
/// <param name="Toolchain">The Isola, runtime and compiler identity the image was built with.</param>
/// <param name="ImageSha256">SHA-256 of <c>script.dll</c>, checked before every load.</param>
/// <param name="Sources">The script and every file it <c>#load</c>s (decoded-text hashes).</param>
/// <param name="References">Assemblies it <c>#r</c>s (file hashes); loaded into the script's context at run time.</param>
/// <param name="CreatedAt">When it was compiled.</param>
internal sealed record ScriptManifest(
    int Format,
    string Toolchain,
    string ImageSha256,
    IReadOnlyList<ScriptDependency> Sources,
    IReadOnlyList<ScriptDependency> References,
    DateTimeOffset CreatedAt);

/// <summary>Source-generated JSON for the manifest: reflection-based serialization would cost a cached run ~30 ms.</summary>
[JsonSerializable(typeof(ScriptManifest))]
[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
internal sealed partial class ScriptManifestJson : JsonSerializerContext;
