using System.Globalization;
using Isola.Controllers;
using Isola.Executors;
using Isola.Plugins.Shim.Diagnostics;
using Isola.Plugins.Shim.Executor;
using Isola.Plugins.Shim.Launcher;
using Microsoft.Extensions.Logging;
using Keys = Isola.Plugins.Shim.Controller.ControllerDataKeys;

namespace Isola.Plugins.Shim.Controller;

/// <summary>Stop (signals, then the kill) and Shutdown (tasks, shim, socket, cgroup and bundles), gracefully or by force.</summary>
internal sealed partial class ShimController
{
    public async Task StopAsync(SandboxContext sandbox, TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (!sandbox.ControllerData.ContainsKey(Keys.Address))
        {
            return; // never started
        }

        TaskServiceClient client;
        try
        {
            client = await ClientAsync(sandbox, cancellationToken).ConfigureAwait(false);
        }
        catch (IsolaException e) when (e.Code == IsolaErrorCode.Unavailable)
        {
            // The shim is gone; its pause may not be. Force-delete through the OCI runtime, as containerd does.
            _logger.LogInformation("sandbox {Id}: shim unreachable ({Error}); deleting its tasks with shim delete", sandbox.Id, e.Message);
            await ForceDeleteAllAsync(sandbox, cancellationToken).ConfigureAwait(false);
            return;
        }

        // Containers first (they share the pod's namespaces), then the pause: SIGTERM, then SIGKILL after the timeout.
        var tasks = ContainerIds(sandbox).Append(sandbox.Id).ToList();
        using var phase = ShimActivities.Phase("stop tasks", sandbox.Id);
        await Task.WhenAll(tasks.Select(id => StopTaskAsync(client, id, timeout, cancellationToken))).ConfigureAwait(false);
    }

    public async Task ShutdownAsync(SandboxContext sandbox, CancellationToken cancellationToken)
    {
        _events.MarkUsed();
        var bundle = BundleOf(sandbox);
        var containers = ContainerIds(sandbox).ToList();
        if (sandbox.ControllerData.ContainsKey(Keys.Address))
        {
            var graceful = false;
            try
            {
                var client = await ClientAsync(sandbox, cancellationToken).ConfigureAwait(false);
                using (ShimActivities.Phase("delete tasks", sandbox.Id))
                {
                    foreach (var id in containers)
                    {
                        await DeleteTaskAsync(client, id, cancellationToken).ConfigureAwait(false);
                    }

                    await DeleteTaskAsync(client, sandbox.Id, cancellationToken).ConfigureAwait(false);
                }

                graceful = true;
                using (ShimActivities.Phase("shim shutdown + exit", sandbox.Id))
                {
                    await ShutdownShimAsync(client, sandbox, cancellationToken).ConfigureAwait(false);
                }
            }
            catch (IsolaException e) when (e.Code is IsolaErrorCode.Unavailable or IsolaErrorCode.DeadlineExceeded or IsolaErrorCode.Unknown
                                            or IsolaErrorCode.Internal or IsolaErrorCode.FailedPrecondition)
            {
                _logger.LogInformation("sandbox {Id}: graceful teardown failed ({Error}); using shim delete", sandbox.Id, e.Message);
            }

            if (!graceful)
            {
                await ForceDeleteAllAsync(sandbox, cancellationToken).ConfigureAwait(false);
            }
        }

        await ForgetClientAsync(sandbox.Id).ConfigureAwait(false);
        if (FindShim(sandbox) is { } shimPid)
        {
            _logger.LogInformation("sandbox {Id}: shim pid {Pid} still runs after teardown; killing it", sandbox.Id, shimPid);
            await ShimProcesses.KillAsync(shimPid).ConfigureAwait(false);
        }

        using var cleanup = ShimActivities.Phase("socket, log, cgroup, bundles", sandbox.Id);
        RemoveShimSocket(sandbox);
        _logs.Detach(sandbox.Id);
        if (sandbox.ControllerData.TryGetValue(Keys.CgroupsPath, out var cgroup) && CgroupCleaner.Remove(cgroup) is { Count: > 0 } left)
        {
            throw IsolaException.Internal($"sandbox '{sandbox.Id}': cgroup {cgroup} still busy: {string.Join(", ", left)}");
        }

        TryDelete(Path.Combine(sandbox.StateDirectory, ContainerBundlesDir));
        TryDelete(bundle);
        if (Path.GetDirectoryName(bundle) is { } parent && Path.GetFileName(parent) == PauseBundleDir)
        {
            TryDelete(parent);
        }
        foreach (var key in new[] { Keys.Address, Keys.Version, Keys.PausePid, Keys.ShimPid, Keys.StartedAt })
        {
            sandbox.ControllerData.Remove(key);
        }

        RemoveEmptyNamespace(sandbox);
    }

    private static async Task StopTaskAsync(TaskServiceClient client, string id, TimeSpan timeout, CancellationToken cancellationToken)
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

    private static async Task DeleteTaskAsync(TaskServiceClient client, string id, CancellationToken cancellationToken)
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

    private async Task ShutdownShimAsync(TaskServiceClient client, SandboxContext sandbox, CancellationToken cancellationToken)
    {
        try
        {
            await client.ShutdownAsync(sandbox.Id, now: true, cancellationToken).ConfigureAwait(false);
        }
        catch (IsolaException e) when (e.Code == IsolaErrorCode.Unavailable)
        {
            // the shim exits while answering: the connection drops
        }

        // The shim serves other clients' connections (the host's executor) until they go idle: close ours, then give
        // it a moment to exit by itself before ShutdownAsync's last resort (SIGKILL) applies.
        await ForgetClientAsync(sandbox.Id).ConfigureAwait(false);
        for (var i = 0; i < 400 && FindShim(sandbox) is not null; i++)
        {
            await Task.Delay(5, cancellationToken).ConfigureAwait(false);
        }
    }

    // The shim's pid from the sandbox data (known once Start connected), else the process serving the shim socket
    // (named in the data, or in the bundle's `address` file when Start was cancelled inside `shim start`), else a scan
    // of command lines; always checked by command line, so a reused pid is never signalled.
    private int? FindShim(SandboxContext sandbox)
    {
        var (ns, address) = (SettingsOf(sandbox).Namespace, SettingsOf(sandbox).ContainerdAddress);
        if (int.TryParse(Get(sandbox.ControllerData, Keys.ShimPid), CultureInfo.InvariantCulture, out var pid))
        {
            return ShimProcesses.IsShim(pid, sandbox.Id, ns, address) ? pid : null;
        }

        if (ShimSocketOf(sandbox) is { } socket && ShimProcesses.FindBySocket(socket) is { } owner && ShimProcesses.IsShim(owner, sandbox.Id, ns, address))
        {
            return owner;
        }

        return ShimProcesses.FindLiveShim(sandbox.Id, ns, address);
    }

    private async Task ForceDeleteAllAsync(SandboxContext sandbox, CancellationToken cancellationToken)
    {
        var settings = SettingsOf(sandbox);
        foreach (var id in ContainerIds(sandbox))
        {
            await _launcher.DeleteAsync(id, ContainerBundleOf(sandbox, id), settings, cancellationToken).ConfigureAwait(false);
        }

        await _launcher.DeleteAsync(sandbox.Id, BundleOf(sandbox), settings, cancellationToken).ConfigureAwait(false);
    }

    private static void RemoveShimSocket(SandboxContext sandbox)
    {
        // Only a socket the runc shim made under containerd's socket directory, left behind by a killed shim.
        if (ShimSocketOf(sandbox) is { } path && path.StartsWith("/run/containerd/s/", StringComparison.Ordinal) && File.Exists(path))
        {
            File.Delete(path);
        }
    }

    // A Start cancelled inside `shim start` never recorded the address; the shim wrote it into the bundle.
    private static string? ShimSocketOf(SandboxContext sandbox)
    {
        var address = sandbox.ControllerData.TryGetValue(Keys.Address, out var known) ? known : ShimLauncher.ReadBundleFile(BundleOf(sandbox), ShimLauncher.AddressFile);
        return address is not null && address.IndexOf("unix://", StringComparison.Ordinal) is var i and >= 0 ? address[(i + 7)..] : null;
    }
}
