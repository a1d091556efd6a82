using System.Collections.Concurrent;
using Isola.Controllers;
using Isola.SandboxApi.Tasks;
using Microsoft.Extensions.Logging;

namespace Isola.Server.Tasks;

/// <summary>
/// What <c>isola serve</c> does with Update(fields=["extensions.tasks"]) for a sandbox whose task service does not see
/// the host's files (a VM: <see cref="SandboxInfo.GuestBundleRoot"/> is set): each task and exec process new in the
/// list is staged by the sandbox's own controller (<see cref="ISandbox.PrepareAsync"/>: bundle and rootfs in the VM's
/// shared directory or hot-plugged, output files carried back), each one gone from the list is purged. This is what
/// Kuasar's sandboxer does for its VMs. The last applied list is kept beside the shim bundles
/// (<c>&lt;root&gt;/&lt;sandbox&gt;/tasks.json</c>), so a restarted serve diffs against it.
/// </summary>
internal sealed class GuestTaskStager(string root, ILogger logger)
{
    private const string ListFile = "tasks.json";
    private readonly ConcurrentDictionary<SandboxId, SemaphoreSlim> _locks = new();

    /// <summary>Stages and purges until the sandbox matches <paramref name="list"/>.</summary>
    public async Task ApplyAsync(ISandbox sandbox, TaskResources list, CancellationToken cancellationToken)
    {
        var gate = _locks.GetOrAdd(sandbox.Id, static _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var applied = Load(sandbox.Id);
            try
            {
                await PurgeGoneAsync(sandbox, applied, list, cancellationToken).ConfigureAwait(false);
                await PrepareNewAsync(sandbox, applied, list, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                // What was done stays recorded even when a later step failed, so the next Update or Shutdown undoes it.
                Save(sandbox.Id, applied);
            }
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>Forgets the sandbox (Shutdown; removing the sandbox released what was staged).</summary>
    public void Remove(SandboxId sandboxId)
    {
        var file = ListPath(sandboxId);
        var dir = Path.GetDirectoryName(file)!;
        if (Directory.Exists(dir))
        {
            File.Delete(file);
            if (!Directory.EnumerateFileSystemEntries(dir).Any())
            {
                Directory.Delete(dir);
            }
        }

        _locks.TryRemove(sandboxId, out _);
    }

    private async Task PurgeGoneAsync(ISandbox sandbox, TaskResources applied, TaskResources wanted, CancellationToken cancellationToken)
    {
        foreach (var task in applied.Tasks.ToList())
        {
            if (wanted.Find(task.TaskId) is not { } still)
            {
                await sandbox.PurgeAsync(new PurgeRequest(task.TaskId), cancellationToken).ConfigureAwait(false);
                applied.Tasks.Remove(task);
                logger.LogInformation("sandbox {Sandbox}: task {Task} purged", sandbox.Id, task.TaskId);
                continue;
            }

            foreach (var exec in task.Processes.Where(p => still.Processes.All(s => s.ExecId != p.ExecId)).ToList())
            {
                await sandbox.PurgeAsync(new PurgeRequest(task.TaskId, exec.ExecId), cancellationToken).ConfigureAwait(false);
                task.Processes.Remove(exec);
            }
        }
    }

    private async Task PrepareNewAsync(ISandbox sandbox, TaskResources applied, TaskResources wanted, CancellationToken cancellationToken)
    {
        foreach (var task in wanted.Tasks)
        {
            var container = TaskRequests.Container(sandbox.Id, task);
            var done = applied.Find(task.TaskId);
            if (done is null)
            {
                var staged = await sandbox.PrepareAsync(TaskRequests.ForTask(task, container), cancellationToken).ConfigureAwait(false);
                if (staged.Options is { TypeUrl: var carried })
                {
                    // The engine writes Create itself and cannot carry what the controller put in its options (a VM
                    // without a shared filesystem needs its config.json there): refuse now rather than fail in the guest.
                    await sandbox.PurgeAsync(new PurgeRequest(task.TaskId), CancellationToken.None).ConfigureAwait(false);
                    throw IsolaException.FailedPrecondition(
                        $"sandbox {sandbox.Id}: task {task.TaskId}: its runtime hands the bundle over in Create's options ({carried}), which an engine's own Create does not carry; use a runtime with a shared filesystem (SharedFs: true)");
                }

                done = new TaskResource { TaskId = task.TaskId, Spec = task.Spec, Rootfs = task.Rootfs, Stdin = task.Stdin, Stdout = task.Stdout, Stderr = task.Stderr };
                applied.Tasks.Add(done);
                logger.LogInformation("sandbox {Sandbox}: task {Task} staged in the guest", sandbox.Id, task.TaskId);
            }

            foreach (var exec in task.Processes.Where(p => done.Processes.All(d => d.ExecId != p.ExecId)))
            {
                await sandbox.PrepareAsync(TaskRequests.ForExec(task.TaskId, exec, container), cancellationToken).ConfigureAwait(false);
                done.Processes.Add(exec);
            }
        }
    }

    private string ListPath(SandboxId sandboxId) => Path.Combine(root, sandboxId.Value, ListFile);

    private TaskResources Load(SandboxId sandboxId)
    {
        var file = ListPath(sandboxId);
        return File.Exists(file) ? TaskResources.Parse(File.ReadAllBytes(file)) : new TaskResources();
    }

    private void Save(SandboxId sandboxId, TaskResources applied)
    {
        var file = ListPath(sandboxId);
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("sandboxes need Linux");
        }

        Directory.CreateDirectory(Path.GetDirectoryName(file)!, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var temp = file + ".tmp";
        File.WriteAllBytes(temp, applied.ToUtf8Json());
        File.Move(temp, file, overwrite: true);
    }
}
