using System.Text.Json;
using System.Text.Json.Serialization;

namespace Isola.Hosting.State;

/// <summary>The JSON conventions of state records and of the command line's JSON output.</summary>
internal static class StateJson
{
    /// <summary>Indented, camelCase, enums as strings.</summary>
    public static readonly JsonSerializerOptions Options = Create();

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
