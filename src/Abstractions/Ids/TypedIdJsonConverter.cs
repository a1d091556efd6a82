using System.Text.Json;
using System.Text.Json.Serialization;

namespace Isola;

/// <summary>
/// Writes an id as a plain JSON string, so records and specs on disk look as they did when ids were strings, and
/// validates it on the way back in: a record edited by hand or a spec file with a bad id fails to load naming the
/// value, rather than handing a path-traversing id to code that trusts ids.
/// </summary>
/// <typeparam name="TId">The id type.</typeparam>
public sealed class TypedIdJsonConverter<TId> : JsonConverter<TId> where TId : struct, ITypedId<TId>
{
    /// <inheritdoc />
    public override TId Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType != JsonTokenType.String)
        {
            throw new JsonException($"expected an id as a JSON string, found {reader.TokenType}");
        }

        var text = reader.GetString();
        try
        {
            return TId.Parse(text);
        }
        catch (IsolaException e)
        {
            // JsonException, so that readers that handle malformed JSON (the state store's quarantine) handle this too;
            // the serializer adds the property path to the message.
            throw new JsonException(e.Message, e);
        }
    }

    /// <inheritdoc />
    public override void Write(Utf8JsonWriter writer, TId value, JsonSerializerOptions options) =>
        writer.WriteStringValue(value.Value);

    /// <inheritdoc />
    public override TId ReadAsPropertyName(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        var text = reader.GetString();
        return TId.TryParse(text, out var id) ? id : throw new JsonException($"invalid id '{text}' as a property name");
    }

    /// <inheritdoc />
    public override void WriteAsPropertyName(Utf8JsonWriter writer, TId value, JsonSerializerOptions options) =>
        writer.WritePropertyName(value.Value);
}
