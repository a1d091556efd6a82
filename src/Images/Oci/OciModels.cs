using System.Text.Json;
using System.Text.Json.Serialization;
using Isola.Images.Content;

namespace Isola.Images.Oci;

/// <summary>A content descriptor: what a manifest or index points at.</summary>
internal sealed record Descriptor
{
    [JsonPropertyName("mediaType")]
    public string MediaType { get; init; } = "";

    [JsonPropertyName("digest")]
    public Digest Digest { get; init; }

    [JsonPropertyName("size")]
    public long Size { get; init; }

    [JsonPropertyName("platform")]
    public Platform? Platform { get; init; }

    [JsonPropertyName("annotations")]
    public Dictionary<string, string>? Annotations { get; init; }
}

internal sealed record Platform
{
    [JsonPropertyName("architecture")]
    public string Architecture { get; init; } = "";

    [JsonPropertyName("os")]
    public string Os { get; init; } = "";

    [JsonPropertyName("variant")]
    public string? Variant { get; init; }
}

/// <summary>An image index or Docker manifest list: one manifest per platform.</summary>
internal sealed record ImageIndex
{
    [JsonPropertyName("schemaVersion")]
    public int SchemaVersion { get; init; }

    [JsonPropertyName("mediaType")]
    public string? MediaType { get; init; }

    [JsonPropertyName("manifests")]
    public List<Descriptor> Manifests { get; init; } = [];
}

/// <summary>An image manifest (OCI, or Docker schema 2, which has the same shape).</summary>
internal sealed record ImageManifest
{
    [JsonPropertyName("schemaVersion")]
    public int SchemaVersion { get; init; }

    [JsonPropertyName("mediaType")]
    public string? MediaType { get; init; }

    [JsonPropertyName("config")]
    public Descriptor Config { get; init; } = new();

    [JsonPropertyName("layers")]
    public List<Descriptor> Layers { get; init; } = [];
}

/// <summary>The parts of an image config that running a container needs.</summary>
internal sealed record ImageConfigFile
{
    [JsonPropertyName("architecture")]
    public string? Architecture { get; init; }

    [JsonPropertyName("os")]
    public string? Os { get; init; }

    [JsonPropertyName("config")]
    public ImageRunConfig? Config { get; init; }

    [JsonPropertyName("rootfs")]
    public RootfsSection? Rootfs { get; init; }
}

internal sealed record ImageRunConfig
{
    [JsonPropertyName("Entrypoint")]
    public List<string>? Entrypoint { get; init; }

    [JsonPropertyName("Cmd")]
    public List<string>? Cmd { get; init; }

    [JsonPropertyName("Env")]
    public List<string>? Env { get; init; }

    [JsonPropertyName("WorkingDir")]
    public string? WorkingDir { get; init; }

    [JsonPropertyName("User")]
    public string? User { get; init; }
}

internal sealed record RootfsSection
{
    [JsonPropertyName("type")]
    public string? Type { get; init; }

    [JsonPropertyName("diff_ids")]
    public List<Digest> DiffIds { get; init; } = [];
}

/// <summary>Reads what a registry or archive hands over; malformed JSON is an InvalidArgument error naming what it was.</summary>
internal static class OciJson
{
    public static readonly JsonSerializerOptions Options = new() { DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    public static T Parse<T>(ReadOnlySpan<byte> json, string what)
    {
        try
        {
            return JsonSerializer.Deserialize<T>(json, Options) ?? throw IsolaException.InvalidArgument($"{what}: empty document");
        }
        catch (JsonException e)
        {
            throw IsolaException.InvalidArgument($"{what}: not a valid document ({e.Message})");
        }
    }

    /// <summary>The media type a manifest or index declares inside itself (Docker schema 2 and most OCI ones do).</summary>
    public static string? DeclaredMediaType(ReadOnlySpan<byte> json)
    {
        try
        {
            using var doc = JsonDocument.Parse(json.ToArray());
            if (doc.RootElement.TryGetProperty("mediaType", out var m) && m.ValueKind == JsonValueKind.String)
            {
                return m.GetString();
            }

            return doc.RootElement.TryGetProperty("manifests", out _) ? MediaTypes.OciIndex
                : doc.RootElement.TryGetProperty("layers", out _) ? MediaTypes.OciManifest : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
