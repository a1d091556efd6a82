using System.Text.Json.Nodes;

namespace Isola.Plugins.Sandboxer.Wire;

/// <summary>The OCI JSON a sandboxer receives, made acceptable to Kuasar's serde structs.</summary>
internal static class OciJson
{
    /// <summary>The runtime-spec version written when a spec carries none.</summary>
    public const string DefaultOciVersion = "1.1.0";

    /// <summary>Parses a config.json and fills what Kuasar rejects when missing: "ociVersion" and "process.cwd".</summary>
    public static JsonObject ParseSpec(string json, string containerId)
    {
        var spec = ParseObject(json, containerId, "OCI runtime spec");
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

    /// <summary>Parses an OCI Process and fills "cwd" (and Kuasar's "console_size") the same way.</summary>
    public static JsonObject ParseProcess(string json, string containerId)
    {
        var process = ParseObject(json, containerId, "OCI process");
        FillProcess(process);
        return process;
    }

    /// <summary>The OCI LinuxResources object for <paramref name="resources"/>.</summary>
    public static JsonObject Resources(LinuxResources resources)
    {
        var result = new JsonObject();
        var cpu = new JsonObject();
        if (resources.CpuShares is { } shares) { cpu["shares"] = shares; }
        if (resources.CpuQuota is { } quota) { cpu["quota"] = quota; }
        if (resources.CpuPeriod is { } period) { cpu["period"] = period; }
        if (resources.CpusetCpus is { } cpus) { cpu["cpus"] = cpus; }
        if (cpu.Count > 0) { result["cpu"] = cpu; }
        if (resources.MemoryLimitBytes is { } limit) { result["memory"] = new JsonObject { ["limit"] = limit }; }
        if (resources.PidsLimit is { } pids) { result["pids"] = new JsonObject { ["limit"] = pids }; }
        return result;
    }

    private static void FillProcess(JsonObject process)
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
    }

    private static JsonObject ParseObject(string json, string containerId, string what)
    {
        try
        {
            return JsonNode.Parse(json) as JsonObject
                ?? throw IsolaException.InvalidArgument($"container '{containerId}': the {what} is not a JSON object");
        }
        catch (System.Text.Json.JsonException e)
        {
            throw IsolaException.InvalidArgument($"container '{containerId}': the {what} is not valid JSON: {e.Message}");
        }
    }
}
