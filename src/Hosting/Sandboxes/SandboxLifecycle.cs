using Isola.Hosting.Configuration;
using Isola.Hosting.State;
using Isola.Hosting.Tasks;
using Microsoft.Extensions.Logging;

namespace Isola.Hosting.Sandboxes;

/// <summary>
/// The state machine's deliberate steps: create, start, remove and shut down a sandbox. Each runs under the sandbox's
/// lock, persists the state it is about to enter, and only then calls the controller under its deadline.
/// </summary>
internal sealed class SandboxLifecycle(
    SandboxStore store,
    ControllerCalls controller,
    TaskRouting tasks,
    SandboxStopper stopper,
    SandboxMonitor monitor,
    ISandboxContainers containers,
    RuntimeTable runtimes,
    Networks.PodNetworks networks,
    ILogger logger)
{
    /// <summary>Allocates the id and name, persists Creating, calls Create and persists Created (in memory only for a
    /// caller that starts it at once); returns with the sandbox's lock held. On failure everything is rolled back
    /// (Shutdown, record and directory removed).</summary>
    public async Task<SandboxScope> CreateLockedAsync(SandboxSpec spec, CancellationToken cancellationToken, bool persistCreated = true)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var id = spec.Id ?? SandboxId.New();
        var name = spec.Name ?? id.Value;
        if (!IdValidator.IsValid(name))
        {
            throw IsolaException.InvalidArgument(
                $"invalid sandbox name '{name}': use 1-{IdValidator.MaxLength} letters, digits, '.', '_' or '-', not starting with '.' or '-'");
        }

        SandboxSpecRules.DnsServers(id, spec.DnsServers);
        if (spec.Ports.Count > 0 && Networks.PodNetworks.Requested(spec.Network) is null)
        {
            throw IsolaException.InvalidArgument($"sandbox '{id}': published ports need a pod network (network 'pod')");
        }

        foreach (var port in spec.Ports)
        {
            if (port.HostPort is < 1 or > 65535 || port.ContainerPort is < 1 or > 65535 || port.Protocol is not ("tcp" or "udp" or "sctp"))
            {
                throw IsolaException.InvalidArgument($"sandbox '{id}': published port {port.HostPort}:{port.ContainerPort}/{port.Protocol} needs ports 1-65535 and tcp, udp or sctp");
            }
        }

        var runtime = spec.Runtime ?? runtimes.Default
            ?? throw IsolaException.InvalidArgument(
                $"sandbox '{id}': names no runtime, and there is no default runtime (configured: {Plugins.PluginCatalog.Known(runtimes.Names)}); name one, or set Isola:DefaultRuntime");
        if (!runtimes.TryResolve(runtime, out var handler))
        {
            throw IsolaException.InvalidArgument(
                $"sandbox '{id}': unknown runtime '{runtime}' (configured: {Plugins.PluginCatalog.Known(runtimes.Names)})");
        }

        var now = DateTimeOffset.UtcNow;
        var record = new SandboxRecord
        {
            Generation = Guid.NewGuid().ToString("N"),
            Id = id,
            Name = name,
            Runtime = handler.Name, // the configured spelling, whatever case the caller used
            Controller = handler.ControllerName,
            State = SandboxState.Creating,
            Spec = spec with { Id = id, Name = name, Runtime = handler.Name },
            CreatedAt = now,
        };

        IDisposable lease;
        store.Records.Initialize();
        using (await store.Locks.AcquireGlobalAsync(cancellationToken).ConfigureAwait(false))
        {
            // The id and the name share one namespace: an id may not be another sandbox's name, nor a name another's id.
            if (store.TryLoad(id) is not null || store.Names.Resolve(id.Value) is not null)
            {
                throw IsolaException.AlreadyExists($"sandbox '{id}' already exists");
            }

            if (name != id.Value && (store.Names.Resolve(name) ?? store.TryLoad(SandboxId.Parse(name))) is { } owner)
            {
                throw IsolaException.AlreadyExists($"sandbox name '{name}' is already used by sandbox '{owner.Id}'");
            }

            if (Directory.Exists(store.SandboxDirectory(id)) && !store.DropEmptyLeftover(id, allocationLockHeld: true))
            {
                throw IsolaException.AlreadyExists(
                    $"sandbox '{id}': its state directory '{store.SandboxDirectory(id)}' exists without a readable record; remove or restore it first");
            }

            store.Records.CreateSandboxDirectory(id);
            lease = await store.Locks.AcquireNewAsync(id, cancellationToken).ConfigureAwait(false);
            try
            {
                store.Save(record); // the intent, before any side effect
                Faults.CrashPoints.Reach("record:Creating");
                store.Names.Add(name, id);
            }
            catch
            {
                lease.Dispose();
                store.Names.Remove(name, id);
                store.Records.DeleteSandbox(id);
                throw;
            }
        }

        var scope = new SandboxScope(lease, record, handler, store.Records);
        try
        {
            if (Networks.PodNetworks.Requested(spec.Network) is { } network)
            {
                // Before the controller, as containerd does: the controller is handed the namespace to join.
                var wired = await networks.SetUpAsync(id, network, spec.Ports, cancellationToken).ConfigureAwait(false);
                record.Network = Networks.PodNetworks.Describe(wired);
                record.Spec = record.Spec with { Network = record.Network.Namespace };
                store.Save(record);
                Faults.CrashPoints.Reach("network:added");
                // The controller's context is built from the record: rebuilt, so it sees the namespace. Same lock.
                scope = new SandboxScope(lease, record, handler, store.Records);
            }

            await controller.CallAsync(scope, "Create", (c, s, ct) => c.CreateAsync(s, ct), cancellationToken).ConfigureAwait(false);
            if (persistCreated)
            {
                store.Persist(record, SandboxState.Created, "create");
            }
            else
            {
                SandboxStore.Transition(record, SandboxState.Created, "create");
            }

            logger.LogInformation("sandbox '{Id}' created (runtime {Runtime})", id, runtime);
            return scope;
        }
        catch (Exception e)
        {
            await RollBackLockedAsync(scope, "Create", e).ConfigureAwait(false);
            scope.Dispose();
            throw;
        }
    }

    /// <summary>Created -> Starting -> Ready, with the lock held; a failed Start is rolled back with Shutdown.</summary>
    public async Task StartLockedAsync(SandboxScope scope, CancellationToken cancellationToken)
    {
        var record = scope.Record;
        store.Persist(record, SandboxState.Starting, "start");
        try
        {
            var started = await controller.CallAsync(scope, "Start", (c, s, ct) => c.StartAsync(s, ct), cancellationToken).ConfigureAwait(false);
            if (started.TaskAddress.Length > 0)
            {
                // A malformed address would only fail at the first container; refuse the start now, while it rolls back.
                Executors.TaskEndpoint.Parse(started.TaskAddress, started.TaskApiVersion);
            }

            record.Pid = started.Pid;
            record.PidStartTime = ProcessIdentity.StartTime(started.Pid);
            record.TaskAddress = started.TaskAddress;
            record.TaskApiVersion = started.TaskApiVersion;
            record.GuestBundleRoot = started.GuestBundleRoot;
            record.StartedAt = started.CreatedAt == default ? DateTimeOffset.UtcNow : started.CreatedAt;
            record.Exit = null;
            scope.Context.TaskAddress = started.TaskAddress;
            scope.Context.TaskApiVersion = started.TaskApiVersion;
            store.Persist(record, SandboxState.Ready, "start");
        }
        catch (Exception e)
        {
            await RollBackLockedAsync(scope, "Start", e).ConfigureAwait(false);
            throw;
        }

        logger.LogInformation("sandbox '{Id}' ready at {Address} (pid {Pid})", record.Id, record.TaskAddress, record.Pid);
        monitor.Arm(record.Id, record.Generation);
    }

    /// <summary>Undoes a failed Create or Start: persist Removing, Shutdown, delete the record. A Shutdown that fails
    /// too leaves the record in Removing, so a later Remove or restart finishes the job instead of leaking.</summary>
    private async Task RollBackLockedAsync(SandboxScope scope, string failedOperation, Exception cause)
    {
        var record = scope.Record;
        logger.LogWarning("sandbox '{Id}': {Operation} failed ({Error}); rolling back", record.Id, failedOperation, cause.Message);
        try
        {
            store.Persist(record, SandboxState.Removing, "roll back");
            await ShutdownLockedAsync(scope, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            logger.LogError("sandbox '{Id}': rollback after a failed {Operation} did not finish ({Error}); the record stays in Removing",
                record.Id, failedOperation, e.Message);
        }
    }

    /// <summary>Shutdown (NotFound counts as done), then delete the record and directory. The state must be Removing.</summary>
    public async Task ShutdownLockedAsync(SandboxScope scope, CancellationToken cancellationToken)
    {
        var record = scope.Record;
        try
        {
            await controller.CallAsync(scope, "Shutdown", (c, s, ct) => c.ShutdownAsync(s, ct), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (IsolaException.IsNotFound(e))
        {
        }

        monitor.Cancel(record.Id);
        await tasks.DropAsync(record.Id, cancellationToken).ConfigureAwait(false);
        // Idempotent: a Stop has usually torn it down already; a failed create or an interrupted stop has not.
        await networks.TearDownAsync(record.Id, cancellationToken).ConfigureAwait(false);
        // The name goes first, under the allocation lock: a crash before the record is deleted leaves a record in
        // Removing without a name entry, which recovery puts back and then finishes removing.
        using (await store.Locks.AcquireGlobalAsync(CancellationToken.None).ConfigureAwait(false))
        {
            store.Names.Remove(record.Name, record.Id);
        }

        store.Records.DeleteSandbox(record.Id);
        logger.LogInformation("sandbox '{Id}' removed", record.Id);
    }

    /// <summary>Remove under the lock: stop first when needed, persist Removing, Shutdown, delete.</summary>
    public async Task RemoveLockedAsync(SandboxScope scope, CancellationToken cancellationToken)
    {
        var record = scope.Record;
        if (record.State == SandboxState.Ready)
        {
            // While the task service still answers, take the containers down through it (Delete, then Purge).
            await containers.DeleteAllAsync(scope, cancellationToken).ConfigureAwait(false);
        }

        if (record.State is SandboxState.Ready or SandboxState.Pending or SandboxState.Unknown or SandboxState.Stopping)
        {
            // Stopped is not written: Removing (with the exit) follows at once, before Shutdown. A crash in between
            // leaves Stopping, which recovery finishes as a stop.
            await stopper.StopLockedAsync(scope, null, cancellationToken, persistStopped: false).ConfigureAwait(false);
        }

        if (record.State != SandboxState.Removing)
        {
            store.Persist(record, SandboxState.Removing, "remove");
        }

        await ShutdownLockedAsync(scope, cancellationToken).ConfigureAwait(false);
    }
}
