using System.Text.RegularExpressions;
using Isola.Images.Content;

namespace Isola.Images.References;

/// <summary>
/// An image reference in the form the ecosystem normalises it to: <c>busybox</c> is
/// <c>docker.io/library/busybox:latest</c>, <c>localhost:5000/app@sha256:…</c> keeps its registry and digest.
/// </summary>
public sealed partial record ImageReference
{
    /// <summary>The registry's name as written in references (<c>docker.io</c>, <c>localhost:5000</c>).</summary>
    public required string Registry { get; init; }

    /// <summary>The repository path inside the registry (<c>library/busybox</c>).</summary>
    public required string Repository { get; init; }

    /// <summary>The tag; null when the reference names a digest only.</summary>
    public string? Tag { get; init; }

    /// <summary>The manifest digest the reference pins; null for a tag reference.</summary>
    public Digest? Digest { get; init; }

    /// <summary>Parses and normalises <paramref name="text"/>; a malformed reference is an InvalidArgument error naming it.</summary>
    public static ImageReference Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return TryParse(text, out var reference, out var error)
            ? reference
            : throw IsolaException.InvalidArgument($"image reference '{text}': {error}");
    }

    /// <summary>Parses <paramref name="text"/>; on failure <paramref name="error"/> says why.</summary>
    public static bool TryParse(string text, out ImageReference reference, out string error)
    {
        reference = null!;
        error = "";
        if (string.IsNullOrWhiteSpace(text) || text.Length > 512)
        {
            error = "empty or longer than 512 characters";
            return false;
        }

        var rest = text;
        Digest? digest = null;
        var at = rest.IndexOf('@', StringComparison.Ordinal);
        if (at >= 0)
        {
            if (!Content.Digest.TryParse(rest[(at + 1)..], out var d))
            {
                error = "the digest after '@' must be sha256: and 64 lowercase hex digits";
                return false;
            }

            digest = d;
            rest = rest[..at];
        }

        string? tag = null;
        var lastSlash = rest.LastIndexOf('/');
        var colon = rest.LastIndexOf(':');
        if (colon > lastSlash)
        {
            tag = rest[(colon + 1)..];
            rest = rest[..colon];
            if (!TagPattern().IsMatch(tag))
            {
                error = $"tag '{tag}' may hold letters, digits, '_', '.' and '-' (at most 128, not starting with '.' or '-')";
                return false;
            }
        }

        var slash = rest.IndexOf('/', StringComparison.Ordinal);
        var first = slash < 0 ? "" : rest[..slash];
        string registry;
        string repository;
        if (slash >= 0 && (first.Contains('.', StringComparison.Ordinal) || first.Contains(':', StringComparison.Ordinal) || first == "localhost"))
        {
            registry = first;
            repository = rest[(slash + 1)..];
            if (!RegistryPattern().IsMatch(registry))
            {
                error = $"registry '{registry}' is not a host name with an optional port";
                return false;
            }
        }
        else
        {
            registry = DockerHub;
            repository = rest;
        }

        if (registry == "index.docker.io")
        {
            registry = DockerHub;
        }

        if (registry == DockerHub && !repository.Contains('/', StringComparison.Ordinal))
        {
            repository = "library/" + repository;
        }

        if (!RepositoryPattern().IsMatch(repository) || repository.Length > 255)
        {
            error = $"repository '{repository}' must be lowercase path components of letters and digits separated by '.', '_', '__', '-' or '/'";
            return false;
        }

        reference = new ImageReference
        {
            Registry = registry,
            Repository = repository,
            Tag = tag ?? (digest is null ? "latest" : null),
            Digest = digest,
        };
        return true;
    }

    /// <summary>Docker Hub's name in references.</summary>
    public const string DockerHub = "docker.io";

    /// <summary>The repository with its registry (<c>docker.io/library/busybox</c>).</summary>
    public string Name => Registry + "/" + Repository;

    /// <summary>The normalised reference: name, then <c>:tag</c> and/or <c>@digest</c>.</summary>
    public override string ToString() => Name + (Tag is null ? "" : ":" + Tag) + (Digest is { } d ? "@" + d : "");

    [GeneratedRegex(@"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")]
    private static partial Regex TagPattern();

    [GeneratedRegex(@"^(localhost|[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9a-fA-F:]+\])(:[0-9]{1,5})?$")]
    private static partial Regex RegistryPattern();

    [GeneratedRegex(@"^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$")]
    private static partial Regex RepositoryPattern();
}
