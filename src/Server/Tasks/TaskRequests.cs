using System.Text.Json.Nodes;
using Isola.Controllers;
using Isola.SandboxApi.Tasks;

namespace Isola.Server.Tasks;

/// <summary>A task list entry (what an engine sends in extensions.tasks) as the Prepare requests of a controller.</summary>
internal static class TaskRequests
{
    /// <summary>The container spec a controller needs from a task: its id, rootfs and command.</summary>
    public static ContainerSpec Container(SandboxId sandboxId, TaskResource task)
    {
        if (task.Rootfs is not [var rootfs, ..] || !Path.IsPathFullyQualified(rootfs.Source))
        {
            throw IsolaException.InvalidArgument(
                $"sandbox '{sandboxId}': task '{task.TaskId}' has no rootfs mount with an absolute source; a VM sandbox needs the host directory or block device to stage");
        }

        var args = task.Spec?["process"]?["args"]?.AsArray().Select(a => a?.GetValue<string>() ?? "").ToList() ?? [];
        return new ContainerSpec
        {
            Id = task.TaskId,
            Rootfs = rootfs.Source,
            ReadOnlyRootfs = rootfs.Options.Contains("ro"),
            Args = args,
        };
    }

    public static PrepareRequest ForTask(TaskResource task, ContainerSpec container) => new()
    {
        ContainerId = task.TaskId,
        Container = container,
        // The controller edits the spec in place; the engine's list keeps the spec it sent.
        OciSpec = (JsonObject)task.Spec!.DeepClone(),
        Stdio = new StdioSpec(task.Stdin, task.Stdout, task.Stderr),
    };

    public static PrepareRequest ForExec(string taskId, ProcessResource exec, ContainerSpec container) => new()
    {
        ContainerId = taskId,
        ExecId = exec.ExecId,
        Container = container,
        OciSpec = exec.Spec?.DeepClone() as JsonObject ?? [],
        Stdio = new StdioSpec(exec.Stdin, exec.Stdout, exec.Stderr),
    };
}
