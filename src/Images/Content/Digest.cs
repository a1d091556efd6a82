using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Isola.Images.Content;

/// <summary>A sha256 content digest, <c>sha256:</c> and 64 lowercase hex digits: the only algorithm the store accepts.</summary>
[JsonConverter(typeof(DigestJsonConverter))]
public readonly record struct Digest
{
    private const string Prefix = "sha256:";

    private Digest(string hex)
    {
        Hex = hex;
    }

    /// <summary>The 64 hex digits, which also name the blob's file.</summary>
    public string Hex { get; }

    /// <summary>Parses <paramref name="text"/>; anything but a well-formed sha256 digest is an InvalidArgument error.</summary>
    public static Digest Parse(string text) =>
        TryParse(text, out var d) ? d : throw IsolaException.InvalidArgument($"digest '{text}': expected sha256: and 64 lowercase hex digits");

    /// <summary>Parses <paramref name="text"/> without throwing.</summary>
    public static bool TryParse(string? text, out Digest digest)
    {
        digest = default;
        if (text is null || text.Length != Prefix.Length + 64 || !text.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return false;
        }

        foreach (var c in text.AsSpan(Prefix.Length))
        {
            if (!char.IsAsciiDigit(c) && c is not (>= 'a' and <= 'f'))
            {
                return false;
            }
        }

        digest = new Digest(text[Prefix.Length..]);
        return true;
    }

    /// <summary>The digest of <paramref name="content"/>.</summary>
    public static Digest Of(ReadOnlySpan<byte> content) => FromHash(SHA256.HashData(content));

    /// <summary>The digest of a finished hash.</summary>
    public static Digest FromHash(ReadOnlySpan<byte> sha256) => new(Convert.ToHexStringLower(sha256));

    /// <inheritdoc />
    public override string ToString() => Prefix + Hex;

    private sealed class DigestJsonConverter : JsonConverter<Digest>
    {
        public override Digest Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            TryParse(reader.GetString(), out var d) ? d : throw new JsonException($"'{reader.GetString()}' is not a sha256 digest");

        public override void Write(Utf8JsonWriter writer, Digest value, JsonSerializerOptions options) => writer.WriteStringValue(value.ToString());
    }
}
