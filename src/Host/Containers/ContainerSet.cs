using Isola.Controllers;
using Isola.Executors;
using Isola.Hosting.Sandboxes;
using Isola.Hosting.State;
using Microsoft.Extensions.Logging;

namespace Isola.Hosting.Containers;

/// <summary>
/// The containers of one sandbox. Create persists the container's record (the intent), asks the controller to
/// Prepare it, then the sandbox's executor to Create the task; a failed step undoes the earlier ones.
/// </summary>
internal sealed class ContainerSet(SandboxManager manager, Sandbox sandbox) : IContainers
{
    /// <inheritdoc />
    public async Task<IContainer> CreateAsync(ContainerSpec spec, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var id = IdValidator.Validate(spec.Id ?? Guid.NewGuid().ToString("N")[..16], "container");
        if (spec.Args.Count == 0)
        {
            throw IsolaException.InvalidArgument($"container '{id}': args must not be empty");
        }

        if (string.IsNullOrWhiteSpace(spec.Rootfs) || !Path.IsPathFullyQualified(spec.Rootfs))
        {
            throw IsolaException.InvalidArgument($"container '{id}': rootfs '{spec.Rootfs}' must be an absolute path");
        }

        using var scope = await manager.OpenAsync(sandbox.Id, sandbox.Generation, cancellationToken).ConfigureAwait(false);
        var record = scope.Record;
        Sandbox.RequireReady(record, $"create container '{id}' in");
        if (record.Containers.Any(c => c.Id == id))
        {
            throw IsolaException.AlreadyExists($"container '{id}' already exists in sandbox '{record.Id}'");
        }

        var directory = ContainerDirectory(manager, record.Id, id);
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
        manager.Store.Save(record); // the intent: a crash from here on leaves a record that names what to undo

        var prepared = false;
        var taskCreated = false;
        ITaskClient? client = null;
        try
        {
            var oci = OciSpecBuilder.BuildSpec(record.ToInfo(), id, info.Spec);
            var prepare = new PrepareRequest { ContainerId = id, Container = info.Spec, OciSpecJson = oci, Stdio = stdio };
            var result = await manager.CallAsync(scope, "Prepare", (c, s, ct) => c.PrepareAsync(s, prepare, ct), cancellationToken)
                .ConfigureAwait(false);
            prepared = true;
            info = info with { Bundle = result.Bundle };
            Replace(record, info);
            manager.Store.Save(record);

            client = await manager.TaskClients.GetAsync(record, cancellationToken).ConfigureAwait(false);
            var request = new TaskCreateRequest
            {
                Id = id,
                Bundle = result.Bundle,
                Rootfs = result.Rootfs,
                Terminal = spec.Terminal,
                Stdio = result.Stdio ?? stdio,
            };
            var pid = await manager.TaskClients.CallAsync(record.Id, id, "Create", ct => client.CreateAsync(request, ct), cancellationToken)
                .ConfigureAwait(false);
            taskCreated = true;
            info = info with { State = ContainerState.Created, Pid = pid };
            Replace(record, info);
            manager.Store.Save(record);
        }
        catch (Exception e)
        {
            manager.Logger.LogWarning("container '{Id}' in sandbox '{Sandbox}': create failed ({Error}); rolling back", id, record.Id, e.Message);
            await UndoAsync(manager, scope, id, client, taskCreated, prepared).ConfigureAwait(false);
            throw;
        }

        var container = new Container(manager, sandbox, info);
        sandbox.Update(record.ToInfo());
        return container;
    }

    /// <inheritdoc />
    public async Task<IContainer> RunAsync(ContainerSpec spec, CancellationToken cancellationToken = default)
    {
        var container = await CreateAsync(spec, cancellationToken).ConfigureAwait(false);
        try
        {
            await container.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            manager.Logger.LogWarning("container '{Id}' in sandbox '{Sandbox}': start failed ({Error}); deleting it", container.Id, sandbox.Id, e.Message);
            try
            {
                await container.DeleteAsync(force: true, CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception cleanup)
            {
                manager.Logger.LogError("container '{Id}' in sandbox '{Sandbox}': cleanup failed: {Error}", container.Id, sandbox.Id, cleanup.Message);
            }

            throw;
        }

        return container;
    }

    /// <inheritdoc />
    public Task<IContainer> GetAsync(string id, CancellationToken cancellationToken = default)
    {
        var record = manager.TryLoad(sandbox.Id);
        if (record is null || record.Generation != sandbox.Generation)
        {
            throw IsolaException.NotFound($"sandbox '{sandbox.Id}' not found (it was removed)");
        }

        var info = record.Containers.FirstOrDefault(c => c.Id == id)
            ?? throw IsolaException.NotFound($"container '{id}' not found in sandbox '{sandbox.Id}'");
        return Task.FromResult<IContainer>(new Container(manager, sandbox, info));
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<ContainerInfo>> ListAsync(CancellationToken cancellationToken = default)
    {
        var record = manager.TryLoad(sandbox.Id);
        if (record is null || record.Generation != sandbox.Generation)
        {
            throw IsolaException.NotFound($"sandbox '{sandbox.Id}' not found (it was removed)");
        }

        return Task.FromResult<IReadOnlyList<ContainerInfo>>([.. record.Containers]);
    }

    /// <summary>Where a container's logs and host-side files live.</summary>
    internal static string ContainerDirectory(SandboxManager manager, string sandboxId, string containerId) =>
        Path.Combine(manager.Store.SandboxDirectory(sandboxId), "containers", containerId);

    /// <summary>stdout/stderr captured to files (containerd-shim-runc-v2 understands the file:// scheme).</summary>
    internal static StdioSpec DefaultStdio(string directory, string prefix) =>
        new("", $"file://{Path.Combine(directory, prefix + "stdout.log")}", $"file://{Path.Combine(directory, prefix + "stderr.log")}");

    internal static void Replace(SandboxRecord record, ContainerInfo info)
    {
        var index = record.Containers.FindIndex(c => c.Id == info.Id);
        if (index >= 0)
        {
            record.Containers[index] = info;
        }
    }

    /// <summary>Undoes a container's creation under the sandbox lock: Task Delete, Purge, record and directory.</summary>
    internal static async Task UndoAsync(SandboxManager manager, SandboxScope scope, string id, ITaskClient? client, bool taskCreated, bool prepared)
    {
        var record = scope.Record;
        if (taskCreated && client is not null)
        {
            await Quietly(manager, record.Id, id, "Task Delete", () =>
                manager.TaskClients.CallAsync(record.Id, id, "Delete", ct => client.DeleteAsync(id, null, ct), CancellationToken.None)).ConfigureAwait(false);
        }

        if (prepared)
        {
            await Quietly(manager, record.Id, id, "Purge", () =>
                manager.CallAsync(scope, "Purge", (c, s, ct) => c.PurgeAsync(s, new PurgeRequest(id), ct), CancellationToken.None)).ConfigureAwait(false);
        }

        record.Containers.RemoveAll(c => c.Id == id);
        manager.Store.Save(record);
        try
        {
            Directory.Delete(ContainerDirectory(manager, record.Id, id), recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }

    private static async Task Quietly(SandboxManager manager, string sandboxId, string containerId, string what, Func<Task> action)
    {
        try
        {
            await action().ConfigureAwait(false);
        }
        catch (Exception e) when (!IsolaException.IsNotFound(e))
        {
            manager.Logger.LogWarning("container '{Id}' in sandbox '{Sandbox}': {What} during cleanup failed: {Error}", containerId, sandboxId, what, e.Message);
        }
        catch (Exception)
        {
            // NotFound: already gone, which is what cleanup wants.
        }
    }
}
