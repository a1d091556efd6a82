using System.Text.Json.Nodes;

namespace Isola.Plugins.Shim.Controller;

/// <summary>
/// A pod's <see cref="LinuxResources"/> as the <c>linux.resources</c> of the pause's config.json, which sets the limits of
/// the pod's cgroup when runc creates it. Later changes go through Task Update, whose JSON the Task API executor makes.
/// </summary>
internal static class PodResources
{
    public static JsonObject ToOciJson(LinuxResources resources)
    {
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

        var node = new JsonObject();
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
