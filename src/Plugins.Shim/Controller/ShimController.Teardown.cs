using System.Globalization;
using Isola.Controllers;
using Isola.Executors;
using Isola.Plugins.Shim.Diagnostics;
using Isola.Plugins.Shim.Launcher;
using Microsoft.Extensions.Logging;
using Keys = Isola.Plugins.Shim.Controller.ControllerDataKeys;

namespace Isola.Plugins.Shim.Controller;

/// <summary>Stop (signals, then the kill) and Shutdown (tasks, shim, socket, cgroup and bundles), gracefully or by force.</summary>
internal sealed partial class ShimController
{
    public async Task StopAsync(SandboxContext sandbox, TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (ShimAddressOf(sandbox) is not var (address, version))
        {
            return; // no shim was ever started, so no task exists
        }

        ITaskClient client;
        try
        {
            client = await ClientAsync(sandbox, address, version, cancellationToken).ConfigureAwait(false);
        }
        catch (IsolaException e) when (e.Code == IsolaErrorCode.Unavailable)
        {
            // The shim is gone; its pause may not be. Force-delete through the OCI runtime, as containerd does.
            _logger.LogInformation("sandbox {Id}: shim unreachable ({Error}); deleting its tasks with shim delete", sandbox.Id.Value, e.Message);
            await ForceDeleteAllAsync(sandbox, cancellationToken).ConfigureAwait(false);
            return;
        }

        // Containers first (they share the pod's namespaces), then the pause: SIGTERM, then SIGKILL after the timeout.
        var tasks = ContainerIds(sandbox).Append(sandbox.Id.Value).ToList();
        using var phase = ShimActivities.Phase("stop tasks", sandbox.Id.Value);
        try
        {
            await Task.WhenAll(tasks.Select(id => StopTaskAsync(client, id, timeout, cancellationToken))).ConfigureAwait(false);
        }
        catch (IsolaException e) when (e.Code == IsolaErrorCode.Unavailable)
        {
            // The shim went away mid-stop (it was dying as we connected, say): the same fallback as when it is gone.
            _logger.LogInformation("sandbox {Id}: shim lost during stop ({Error}); deleting its tasks with shim delete", sandbox.Id.Value, e.Message);
            await ForgetClientAsync(sandbox.Id.Value).ConfigureAwait(false);
            await ForceDeleteAllAsync(sandbox, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Ends and removes everything of the pod, from whatever the record and the disk still say (see
    /// ShimController.Remains.cs): the tasks through the shim when it answers, else `shim delete`; then what is left in
    /// the pod's cgroup, the shim, runc state, the shim socket, the cgroups and the bundles. Idempotent; a sandbox that
    /// never got a bundle has nothing to remove.
    /// </summary>
    public async Task ShutdownAsync(SandboxContext sandbox, CancellationToken cancellationToken)
    {
        _events.MarkUsed();
        var bundle = BundleOf(sandbox);
        var shim = ShimAddressOf(sandbox);
        if (shim is not var (address, version) || !await TryGracefulTeardownAsync(sandbox, address, version, cancellationToken).ConfigureAwait(false))
        {
            await ForceDeleteAllAsync(sandbox, cancellationToken).ConfigureAwait(false);
        }

        await ForgetClientAsync(sandbox.Id.Value).ConfigureAwait(false);
        var cgroup = CgroupsPathOf(sandbox);
        await ReclaimAsync(sandbox, shim?.Address, cgroup, cancellationToken).ConfigureAwait(false);
        if (GroupOf(sandbox) is not null)
        {
            // After Reclaim: the pod's tasks and runc state are gone, so only the shim itself can be left.
            await LeaveGroupAsync(sandbox, shim?.Address, shim?.Version ?? 2, cancellationToken).ConfigureAwait(false);
        }

        using var cleanup = ShimActivities.Phase("socket, log, cgroup, bundles", sandbox.Id.Value);
        if (GroupOf(sandbox) is null)
        {
            RemoveShimSocket(shim?.Address);
        }

        _logs.Detach(sandbox.Id.Value);
        if (cgroup is not null && CgroupCleaner.Remove(cgroup) is { Count: > 0 } left)
        {
            throw IsolaException.Internal($"sandbox '{sandbox.Id}': cgroup {cgroup} still busy: {string.Join(", ", left)}");
        }

        TryDelete(Path.Combine(sandbox.StateDirectory, ContainerBundlesDir));
        TryDelete(bundle);
        if (Path.GetDirectoryName(bundle) is { } parent && Path.GetFileName(parent) == PauseBundleDir)
        {
            TryDelete(parent);
        }

        foreach (var key in new[] { Keys.Address, Keys.Version, Keys.PausePid, Keys.PauseStartTime, Keys.ShimPid, Keys.StartedAt })
        {
            sandbox.ControllerData.Remove(key);
        }

        await RemoveEmptyNamespacesAsync(sandbox, TimeSpan.FromMilliseconds(200)).ConfigureAwait(false);
    }

    // Task Delete of every task, then Shutdown of the shim; false (after logging why) when the shim cannot do it.
    private async Task<bool> TryGracefulTeardownAsync(SandboxContext sandbox, string address, uint version, CancellationToken cancellationToken)
    {
        try
        {
            var client = await ClientAsync(sandbox, address, version, cancellationToken).ConfigureAwait(false);
            using (ShimActivities.Phase("delete tasks", sandbox.Id.Value))
            {
                foreach (var id in ContainerIds(sandbox))
                {
                    await DeleteTaskAsync(client, id, cancellationToken).ConfigureAwait(false);
                }

                await DeleteTaskAsync(client, sandbox.Id.Value, cancellationToken).ConfigureAwait(false);
            }

            if (GroupOf(sandbox) is null)
            {
                using (ShimActivities.Phase("shim shutdown + exit", sandbox.Id.Value))
                {
                    await ShutdownShimAsync(client, sandbox, address, cancellationToken).ConfigureAwait(false);
                }
            }

            return true;
        }
        catch (IsolaException e) when (e.Code is IsolaErrorCode.Unavailable or IsolaErrorCode.DeadlineExceeded or IsolaErrorCode.Unknown
                                        or IsolaErrorCode.Internal or IsolaErrorCode.FailedPrecondition)
        {
            _logger.LogInformation("sandbox {Id}: graceful teardown failed ({Error}); using shim delete", sandbox.Id.Value, e.Message);
            return false;
        }
    }

    private static async Task StopTaskAsync(ITaskClient client, string id, TimeSpan timeout, CancellationToken cancellationToken)
    {
        try
        {
            var state = await client.StateAsync(id, null, cancellationToken).ConfigureAwait(false);
            if (state.Status is Executors.TaskStatus.Stopped or Executors.TaskStatus.Created)
            {
                return;
            }

            await client.KillAsync(id, null, 15, false, cancellationToken).ConfigureAwait(false);
            using var grace = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            grace.CancelAfter(timeout);
            try
            {
                await client.WaitAsync(id, null, grace.Token).ConfigureAwait(false);
                return;
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                // still running after the grace period
            }

            await client.KillAsync(id, null, 9, true, cancellationToken).ConfigureAwait(false);
            await client.WaitAsync(id, null, cancellationToken).ConfigureAwait(false);
        }
        catch (IsolaException e) when (e.Code is IsolaErrorCode.NotFound)
        {
            // already gone
        }
    }

    private static async Task DeleteTaskAsync(ITaskClient client, string id, CancellationToken cancellationToken)
    {
        try
        {
            var state = await client.StateAsync(id, null, cancellationToken).ConfigureAwait(false);
            if (state.Status is not (Executors.TaskStatus.Stopped or Executors.TaskStatus.Created))
            {
                await client.KillAsync(id, null, 9, true, cancellationToken).ConfigureAwait(false);
                await client.WaitAsync(id, null, cancellationToken).ConfigureAwait(false);
            }

            await client.DeleteAsync(id, null, cancellationToken).ConfigureAwait(false);
        }
        catch (IsolaException e) when (e.Code is IsolaErrorCode.NotFound)
        {
            // already deleted
        }
    }

    private async Task ShutdownShimAsync(ITaskClient client, SandboxContext sandbox, string address, CancellationToken cancellationToken)
    {
        try
        {
            await client.ShutdownAsync(sandbox.Id.Value, now: true, cancellationToken).ConfigureAwait(false);
        }
        catch (IsolaException e) when (e.Code == IsolaErrorCode.Unavailable)
        {
            // the shim exits while answering: the connection drops
        }

        // The shim serves other clients' connections (the host's executor) until they go idle: close ours, then give
        // it a moment to exit by itself (it drains its events first, which the endpoint keeps fast) before ReclaimAsync's
        // last resort (SIGKILL) applies.
        await ForgetClientAsync(sandbox.Id.Value).ConfigureAwait(false);
        for (var i = 0; i < 400 && FindShim(sandbox, address) is not null; i++)
        {
            await Task.Delay(5, cancellationToken).ConfigureAwait(false);
        }
    }

    // The shim's pid from the sandbox data (known once Start connected), else the process serving the shim socket
    // (recorded, or from the bundle's `address` file when the host died inside Start), else a scan of command lines;
    // always checked by command line, so a reused pid is never signalled.
    private int? FindShim(SandboxContext sandbox, string? address)
    {
        if (GroupOf(sandbox) is not null)
        {
            return GroupShim(sandbox, address);
        }

        var settings = SettingsOf(sandbox);
        if (int.TryParse(Get(sandbox.ControllerData, Keys.ShimPid), CultureInfo.InvariantCulture, out var pid))
        {
            return ShimProcesses.IsShim(pid, sandbox.Id.Value, settings.Namespace, settings.ContainerdAddress) ? pid : null;
        }

        if (ShimSocketOf(address) is { } socket && ShimProcesses.FindBySocket(socket) is { } owner &&
            ShimProcesses.IsShim(owner, sandbox.Id.Value, settings.Namespace, settings.ContainerdAddress))
        {
            return owner;
        }

        return ShimProcesses.FindLiveShim(sandbox.Id.Value, settings.Namespace, settings.ContainerdAddress);
    }
}
