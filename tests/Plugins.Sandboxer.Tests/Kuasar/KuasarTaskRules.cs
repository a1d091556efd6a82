using System.Text;
using System.Text.Json;
using Grpc.Core;
using Isola.SandboxApi.Tasks;

namespace Isola.Plugins.Sandboxer.Tests.Kuasar;

/// <summary>Kuasar's checks on the OCI JSON it receives: its serde structs give no default to ociVersion (spec) or
/// cwd (process), so JSON without them is rejected (protocols.md 8).</summary>
internal static class KuasarTaskRules
{
    public static TaskResources ParseTasks(ReadOnlySpan<byte> json)
    {
        TaskResources list;
        try
        {
            list = TaskResources.Parse(json);
        }
        catch (JsonException e)
        {
            throw Invalid("failed to parse tasks: " + e.Message);
        }

        foreach (var task in list.Tasks)
        {
            if (string.IsNullOrEmpty(task.TaskId))
            {
                throw Invalid("task_id should not be empty");
            }

            CheckSpec(task.Spec?.ToJsonString() ?? "");
            foreach (var p in task.Processes)
            {
                CheckProcess(p.Spec?.ToJsonString() ?? "");
            }
        }

        return list;
    }

    public static void CheckSpec(string json)
    {
        using var doc = Parse(json);
        if (!doc.RootElement.TryGetProperty("ociVersion", out _))
        {
            throw Invalid("missing field `ociVersion`");
        }

        if (doc.RootElement.TryGetProperty("process", out var process) && !process.TryGetProperty("cwd", out _))
        {
            throw Invalid("missing field `cwd`");
        }
    }

    public static void CheckProcess(string json)
    {
        using var doc = Parse(json);
        if (!doc.RootElement.TryGetProperty("cwd", out _))
        {
            throw Invalid("missing field `cwd`");
        }
    }

    private static JsonDocument Parse(string json)
    {
        try
        {
            return JsonDocument.Parse(Encoding.UTF8.GetBytes(json));
        }
        catch (JsonException e)
        {
            throw Invalid("invalid spec json: " + e.Message);
        }
    }

    private static RpcException Invalid(string message) => new(new Status(StatusCode.InvalidArgument, message));
}
