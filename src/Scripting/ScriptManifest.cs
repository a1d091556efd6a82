using System.Globalization;
using System.Text;

namespace Isola.Scripting;

/// <summary>The record next to a cached script image: what it was built from and the image's own hash.</summary>
/// <param name="Format">The cache layout version, <see cref="ScriptCache.FormatVersion"/>.</param>
/// <param name="Toolchain">The Isola, runtime and compiler identity the image was built with.</param>
/// <param name="ImageHash">Hash of <c>script.dll</c> (<see cref="ScriptHashing.OfBytes"/>), checked before every load.</param>
/// <param name="Sources">The script and every file it <c>#load</c>s (decoded-text hashes).</param>
/// <param name="References">Assemblies it <c>#r</c>s (file hashes); loaded into the script's context at run time.</param>
/// <param name="CreatedAt">When it was compiled.</param>
internal sealed record ScriptManifest(
    int Format,
    string Toolchain,
    string ImageHash,
    IReadOnlyList<ScriptDependency> Sources,
    IReadOnlyList<ScriptDependency> References,
    DateTimeOffset CreatedAt)
{
    private const string Magic = "isola-script-cache";

    /// <summary>
    /// A line-per-field text form (<c>source HASH PATH</c>). Hand-written rather than JSON on purpose: a cached run
    /// must stay near process-start cost, and loading and warming System.Text.Json alone cost ~15 ms of it (measured
    /// with <c>isola run -v</c>). Paths containing a line break are rejected, so each line parses unambiguously.
    /// </summary>
    public string Serialize()
    {
        var text = new StringBuilder()
            .Append(CultureInfo.InvariantCulture, $"{Magic} {Format}\n")
            .Append(CultureInfo.InvariantCulture, $"toolchain {Toolchain}\n")
            .Append(CultureInfo.InvariantCulture, $"image {ImageHash}\n")
            .Append(CultureInfo.InvariantCulture, $"created {CreatedAt:O}\n");
        foreach (var (kind, deps) in new[] { ("source", Sources), ("reference", References) })
        {
            foreach (var dep in deps)
            {
                if (dep.Path.AsSpan().ContainsAny('\n', '\r'))
                {
                    throw new InvalidDataException($"cannot cache a script whose input path contains a line break: {dep.Path}");
                }

                text.Append(CultureInfo.InvariantCulture, $"{kind} {dep.Hash} {dep.Path}\n");
            }
        }

        return text.ToString();
    }

    /// <summary>Parses <see cref="Serialize"/>'s output; throws <see cref="InvalidDataException"/> on anything else.</summary>
    public static ScriptManifest Parse(string text)
    {
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        if (lines.Length < 4 || !lines[0].StartsWith(Magic + " ", StringComparison.Ordinal)
            || !int.TryParse(lines[0].AsSpan(Magic.Length + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var format))
        {
            throw new InvalidDataException("not a script cache manifest");
        }

        string toolchain = "", image = "";
        var created = DateTimeOffset.MinValue;
        List<ScriptDependency> sources = [], references = [];
        foreach (var line in lines.Skip(1))
        {
            var space = line.IndexOf(' ', StringComparison.Ordinal);
            var (kind, rest) = space > 0 ? (line[..space], line[(space + 1)..]) : throw new InvalidDataException($"bad manifest line '{line}'");
            switch (kind)
            {
                case "toolchain": toolchain = rest; break;
                case "image": image = rest; break;
                case "created": created = DateTimeOffset.Parse(rest, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind); break;
                case "source": sources.Add(Dependency(rest)); break;
                case "reference": references.Add(Dependency(rest)); break;
                default: throw new InvalidDataException($"unknown manifest field '{kind}'");
            }
        }

        return new ScriptManifest(format, toolchain, image, sources, references, created);
    }

    private static ScriptDependency Dependency(string rest)
    {
        // A hash is 32 hex digits (XXH3-128); the path is the rest of the line.
        var space = rest.IndexOf(' ', StringComparison.Ordinal);
        return space == 32 && rest.Length > space + 1
            ? new ScriptDependency(rest[(space + 1)..], rest[..space])
            : throw new InvalidDataException($"bad dependency '{rest}'");
    }
}
