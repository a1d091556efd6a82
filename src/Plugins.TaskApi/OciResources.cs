using System.Text.Json.Nodes;

namespace Isola.Plugins.TaskApi;

/// <summary>Isola's <see cref="LinuxResources"/> in the OCI runtime-spec's <c>linux.resources</c> JSON shape, as Task
/// Update carries them.</summary>
internal static class OciResources
{
    public static string ToJson(LinuxResources resources) => ToNode(resources).ToJsonString();

    private static JsonObject ToNode(LinuxResources resources)
    {
        var node = new JsonObject();
        var cpu = new JsonObject();
        if (resources.CpuShares is { } shares)
        {
            cpu["shares"] = shares;
        }

        if (resources.CpuQuota is { } quota)
        {
            cpu["quota"] = quota;
        }

        if (resources.CpuPeriod is { } period)
        {
            cpu["period"] = period;
        }

        if (resources.CpusetCpus is { } cpus)
        {
            cpu["cpus"] = cpus;
        }

        if (cpu.Count > 0)
        {
            node["cpu"] = cpu;
        }

        if (resources.MemoryLimitBytes is { } memory)
        {
            node["memory"] = new JsonObject { ["limit"] = memory };
        }

        if (resources.PidsLimit is { } pids)
        {
            node["pids"] = new JsonObject { ["limit"] = pids };
        }

        return node;
    }
}
