using System.Text.Json;
using System.Text.Json.Serialization;

namespace Isola.Hosting;

/// <summary>
/// The JSON conventions Isola writes its models in: the state records (<c>sandbox.json</c>) and the <c>isola</c>
/// command's <c>-o json</c> output (which only relaxes the encoder's HTML-safe escaping). An application that prints or stores <see cref="SandboxInfo"/> or
/// <see cref="ContainerInfo"/> with these options produces the same shape as the command line.
/// </summary>
public static class IsolaJson
{
    /// <summary>Web defaults (camelCase properties, case-insensitive reading), indented, null properties omitted, enums
    /// as their names. Read-only: derive a copy (<c>new JsonSerializerOptions(IsolaJson.Options)</c>) to change it.</summary>
    public static JsonSerializerOptions Options { get; } = Create();

    private static JsonSerializerOptions Create()
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web)
        {
            WriteIndented = true,
            DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        };
        options.Converters.Add(new JsonStringEnumConverter());
        options.MakeReadOnly(populateMissingResolver: true);
        return options;
    }
}
