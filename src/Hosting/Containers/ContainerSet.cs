using Isola.Controllers;
using Isola.Executors;
using Isola.Hosting.Sandboxes;
using Isola.Hosting.State;
using Isola.Hosting.Tasks;
using Microsoft.Extensions.Logging;

namespace Isola.Hosting.Containers;

/// <summary>
/// The containers of one sandbox. Create persists the container's record (the intent), asks the controller to
/// Prepare it, then the sandbox's executor to Create the task; a failed step undoes the earlier ones.
/// </summary>
internal sealed class ContainerSet(ContainerServices services, Sandbox sandbox) : IContainers
{
    /// <inheritdoc />
    public async Task<IContainer> CreateAsync(ContainerSpec spec, CancellationToken cancellationToken = default)
    {
        var (scope, info) = await CreateLockedAsync(spec, start: false, cancellationToken).ConfigureAwait(false);
        using (scope)
        {
            sandbox.Update(scope.Record.ToInfo());
            return new Container(services, sandbox, info);
        }
    }

    /// <summary>Create, then Start, under one hold of the sandbox lock. Until it has started, the container's record
    /// stays Unknown (an interrupted creation), so a crash anywhere in between is undone by recovery, and no other
    /// process ever sees a Created container that nobody will start.</summary>
    public async Task<IContainer> RunAsync(ContainerSpec spec, CancellationToken cancellationToken = default)
    {
        var (scope, info) = await CreateLockedAsync(spec, start: true, cancellationToken).ConfigureAwait(false);
        using (scope)
        {
            sandbox.Update(scope.Record.ToInfo());
            return new Container(services, sandbox, info);
        }
    }

    private async Task<(SandboxScope Scope, ContainerInfo Info)> CreateLockedAsync(ContainerSpec spec, bool start, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var id = spec.Id ?? ContainerId.New();
        if (spec.Image is not null)
        {
            if (spec.Rootfs.Length > 0)
            {
                throw IsolaException.InvalidArgument($"container '{id}': give a rootfs or an image, not both");
            }

            Images.References.ImageReference.Parse(spec.Image);
        }
        else
        {
            if (spec.Args.Count == 0)
            {
                throw IsolaException.InvalidArgument($"container '{id}': args must not be empty");
            }

            if (string.IsNullOrWhiteSpace(spec.Rootfs) || !Path.IsPathFullyQualified(spec.Rootfs))
            {
                throw IsolaException.InvalidArgument($"container '{id}': rootfs '{spec.Rootfs}' must be an absolute path");
            }
        }

        var scope = await services.Store.OpenAsync(sandbox.Id, sandbox.Generation, cancellationToken).ConfigureAwait(false);
        try
        {
            return (scope, await CreateLockedAsync(scope, id, spec, start, cancellationToken).ConfigureAwait(false));
        }
        catch
        {
            scope.Dispose();
            throw;
        }
    }

    private async Task<ContainerInfo> CreateLockedAsync(SandboxScope scope, ContainerId id, ContainerSpec spec, bool start, CancellationToken cancellationToken)
    {
        var record = scope.Record;
        Sandbox.RequireReady(record, $"create container '{id}' in");
        if (record.Containers.Any(c => c.Id == id))
        {
            throw IsolaException.AlreadyExists($"container '{id}' already exists in sandbox '{record.Id}'");
        }

        var directory = ContainerDirectory(services.Store, record.Id, id);
        UnixDirectories.CreateOwnerOnly(directory);
        var stdio = spec.Stdio ?? DefaultStdio(directory, "");
        var info = new ContainerInfo
        {
            Id = id,
            SandboxId = record.Id,
            State = ContainerState.Unknown,
            Spec = spec with { Id = id },
            Stdio = stdio,
            CreatedAt = DateTimeOffset.UtcNow,
        };
        record.Containers.Add(info);
        services.Store.Save(record); // the intent: a crash from here on leaves a record that names what to undo
        Faults.CrashPoints.Reach("container:Unknown");

        var prepared = false;
        var taskCreated = false;
        ITaskClient? client = null;
        try
        {
            if (spec.Image is not null)
            {
                // The image's rootfs and defaults, before the spec is built from them; recorded so an undo knows.
                info = info with { Spec = await services.Images.PrepareAsync(record.Id, id, info.Spec, directory, cancellationToken).ConfigureAwait(false) };
                Replace(record, info);
                services.Store.Save(record);
                Faults.CrashPoints.Reach("image:mounted");
            }

            var oci = OciSpecBuilder.BuildSpec(record.ToInfo(), id, info.Spec);
            var prepare = new PrepareRequest { ContainerId = id, Container = info.Spec, OciSpec = oci, Stdio = stdio };
            var result = await services.Controller.CallAsync(scope, "Prepare", (c, s, ct) => c.PrepareAsync(s, prepare, ct), cancellationToken)
                .ConfigureAwait(false);
            prepared = true;
            info = info with { Bundle = result.Bundle, TaskStdio = result.Stdio };
            Replace(record, info);
            services.Store.Save(record);
            Faults.CrashPoints.Reach("container:prepared");

            client = await services.Tasks.GetAsync(record, cancellationToken).ConfigureAwait(false);
            var request = new TaskCreateRequest
            {
                Id = id.Value,
                Bundle = result.Bundle,
                Rootfs = result.Rootfs,
                Terminal = spec.Terminal,
                Stdio = result.Stdio ?? stdio,
                HostStdio = result.Stdio is null ? null : stdio,
                Options = result.Options,
            };
            var pid = await services.Tasks.CallAsync(record.Id, id, "Create", ct => client.CreateAsync(request, ct), cancellationToken)
                .ConfigureAwait(false);
            taskCreated = true;
            info = info with { Pid = pid };
            if (!start)
            {
                info = info with { State = ContainerState.Created };
                Replace(record, info);
                services.Store.Save(record);
                Faults.CrashPoints.Reach("container:Created");
                return info;
            }

            info = await StartLockedAsync(services, scope, info, client, cancellationToken).ConfigureAwait(false);
            return info;
        }
        catch (Exception e)
        {
            services.Logger.LogWarning("container '{Id}' in sandbox '{Sandbox}': {Operation} failed ({Error}); rolling back", id, record.Id,
                start ? "run" : "create", e.Message);
            if (taskCreated && client is not null && start)
            {
                // Start may have got as far as running the process: the Task API refuses to delete a running task.
                await Quietly(services, record.Id, id, "Task Kill", () =>
                    TaskTermination.KillAsync(services.Tasks, client, record.Id, id, null, CancellationToken.None)).ConfigureAwait(false);
            }

            await UndoAsync(services, scope, id, client, taskCreated, prepared).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Task Start under the sandbox lock, then the record says Running.</summary>
    internal static async Task<ContainerInfo> StartLockedAsync(ContainerServices services, SandboxScope scope, ContainerInfo info, ITaskClient client,
        CancellationToken cancellationToken)
    {
        var pid = await services.Tasks.CallAsync(scope.Record.Id, info.Id, "Start", ct => client.StartAsync(info.Id.Value, null, ct), cancellationToken)
            .ConfigureAwait(false);
        info = info with { State = ContainerState.Running, Pid = pid };
        Replace(scope.Record, info);
        services.Store.Save(scope.Record);
        Faults.CrashPoints.Reach("container:Running");
        return info;
    }

    /// <inheritdoc />
    public Task<IContainer> GetAsync(ContainerId id, CancellationToken cancellationToken = default)
    {
        var record = services.Store.TryLoad(sandbox.Id);
        if (record is null || record.Generation != sandbox.Generation)
        {
            throw IsolaException.NotFound($"sandbox '{sandbox.Id}' not found (it was removed)");
        }

        var info = record.Containers.FirstOrDefault(c => c.Id == id)
            ?? throw IsolaException.NotFound($"container '{id}' not found in sandbox '{sandbox.Id}'");
        return Task.FromResult<IContainer>(new Container(services, sandbox, info));
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<ContainerInfo>> ListAsync(CancellationToken cancellationToken = default)
    {
        var record = services.Store.TryLoad(sandbox.Id);
        if (record is null || record.Generation != sandbox.Generation)
        {
            throw IsolaException.NotFound($"sandbox '{sandbox.Id}' not found (it was removed)");
        }

        return Task.FromResult<IReadOnlyList<ContainerInfo>>([.. record.Containers]);
    }

    /// <summary>Where a container's logs and host-side files live.</summary>
    internal static string ContainerDirectory(SandboxStore store, SandboxId sandboxId, ContainerId containerId) =>
        Path.Combine(store.SandboxDirectory(sandboxId), "containers", containerId.Value);

    /// <summary>stdout/stderr captured to files (containerd-shim-runc-v2 understands the file:// scheme).</summary>
    internal static StdioSpec DefaultStdio(string directory, string prefix) =>
        new("", $"file://{Path.Combine(directory, prefix + "stdout.log")}", $"file://{Path.Combine(directory, prefix + "stderr.log")}");

    /// <summary>An exec's stdio when its spec names none: its own pair of files next to the container's logs.</summary>
    internal static StdioSpec DefaultExecStdio(SandboxStore store, SandboxId sandboxId, ContainerId containerId, ExecId execId) =>
        DefaultStdio(ContainerDirectory(store, sandboxId, containerId), $"exec-{execId}.");

    internal static void Replace(SandboxRecord record, ContainerInfo info)
    {
        var index = record.Containers.FindIndex(c => c.Id == info.Id);
        if (index >= 0)
        {
            record.Containers[index] = info;
        }
    }

    /// <summary>Undoes a container's creation under the sandbox lock: Task Delete, Purge, record and directory.</summary>
    internal static async Task UndoAsync(ContainerServices services, SandboxScope scope, ContainerId id, ITaskClient? client, bool taskCreated, bool prepared)
    {
        var record = scope.Record;
        if (taskCreated && client is not null)
        {
            await Quietly(services, record.Id, id, "Task Delete", () =>
                services.Tasks.CallAsync(record.Id, id, "Delete", ct => client.DeleteAsync(id.Value, null, ct), CancellationToken.None)).ConfigureAwait(false);
        }

        if (prepared)
        {
            await Quietly(services, record.Id, id, "Purge", () =>
                services.Controller.CallAsync(scope, "Purge", (c, s, ct) => c.PurgeAsync(s, new PurgeRequest(id), ct), CancellationToken.None)).ConfigureAwait(false);
        }

        if (record.Containers.FirstOrDefault(c => c.Id == id)?.Spec.Image is not null)
        {
            await services.Images.ReleaseAsync(record.Id, id, ContainerDirectory(services.Store, record.Id, id)).ConfigureAwait(false);
        }

        record.Containers.RemoveAll(c => c.Id == id);
        services.Store.Save(record);
        try
        {
            Directory.Delete(ContainerDirectory(services.Store, record.Id, id), recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }

    private static async Task Quietly(ContainerServices services, SandboxId sandboxId, ContainerId containerId, string what, Func<Task> action)
    {
        try
        {
            await action().ConfigureAwait(false);
        }
        catch (Exception e) when (!IsolaException.IsNotFound(e))
        {
            services.Logger.LogWarning("container '{Id}' in sandbox '{Sandbox}': {What} during cleanup failed: {Error}", containerId, sandboxId, what, e.Message);
        }
        catch (Exception)
        {
            // NotFound: already gone, which is what cleanup wants.
        }
    }
}
