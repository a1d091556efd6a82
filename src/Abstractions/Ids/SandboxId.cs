using System.Diagnostics.CodeAnalysis;
using System.Text.Json.Serialization;

namespace Isola;

/// <summary>
/// A sandbox id. An instance exists only through <see cref="Parse"/>, <see cref="TryParse"/> or the implicit conversion from
/// a string, each of which applies <see cref="IdValidator"/>: code that holds one trusts it (it is safe as a directory
/// name) without checking again. <c>default</c> is not an id: its <see cref="Value"/> is empty.
/// </summary>
/// <remarks>
/// The conversion from a string is implicit, as <c>System.Xml.Linq.XName</c>'s is, so callers write
/// <c>"web"</c> where an id is wanted; it throws on a bad value like <see cref="Parse"/>. The conversion back is not:
/// with both implicit, comparing an id with a string would be ambiguous and an id would silently decay into text.
/// Interpolation and <see cref="ToString"/> give the text without allocating; <see cref="Value"/> does too.
/// </remarks>
[JsonConverter(typeof(TypedIdJsonConverter<SandboxId>))]
public readonly record struct SandboxId : ITypedId<SandboxId>
{
    private readonly string? _value;

    private SandboxId(string value) => _value = value;

    /// <summary>The id as text; empty for <c>default</c>.</summary>
    public string Value => _value ?? "";

    /// <summary>Parses <paramref name="value"/>; throws <see cref="IsolaErrorCode.InvalidArgument"/> naming it and
    /// what an id may contain when it is not an id.</summary>
    public static SandboxId Parse(string? value) => new(IdValidator.Validate(value, "sandbox"));

    /// <summary>Parses <paramref name="value"/>; false when it is not an id.</summary>
    public static bool TryParse([NotNullWhen(true)] string? value, out SandboxId id)
    {
        id = IdValidator.IsValid(value) ? new(value) : default;
        return id._value is not null;
    }

    /// <summary>A new random id (16 hex digits).</summary>
    public static SandboxId New() => new(Guid.NewGuid().ToString("N")[..16]);

    /// <summary>Parses <paramref name="value"/> as <see cref="Parse"/> does (and throws as it does).</summary>
    public static implicit operator SandboxId(string value) => Parse(value);

    /// <summary>The id as text.</summary>
    public override string ToString() => Value;
}
