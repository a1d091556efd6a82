using System.Text.Json.Nodes;

namespace Isola.Plugins.Sandboxer.Wire;

/// <summary>The OCI JSON a sandboxer receives, made acceptable to Kuasar's serde structs.</summary>
internal static class OciJson
{
    /// <summary>The runtime-spec version written when a spec carries none.</summary>
    public const string DefaultOciVersion = "1.1.0";

    /// <summary>Fills, in place, what Kuasar rejects when missing from a config.json: "ociVersion" and "process.cwd".</summary>
    public static JsonObject FillSpec(JsonObject spec)
    {
        if (spec["ociVersion"] is null)
        {
            spec["ociVersion"] = DefaultOciVersion;
        }

        if (spec["process"] is JsonObject process)
        {
            FillProcess(process);
        }

        return spec;
    }

    /// <summary>Fills an OCI Process in place the same way: "cwd" (and Kuasar's "console_size").</summary>
    public static JsonObject FillProcess(JsonObject process)
    {
        if (process["cwd"] is null)
        {
            process["cwd"] = "/";
        }

        // Kuasar's Process struct reads the snake_case name, not OCI's "consoleSize".
        if (process["consoleSize"] is JsonNode size && process["console_size"] is null)
        {
            process["console_size"] = size.DeepClone();
        }

        return process;
    }
}
