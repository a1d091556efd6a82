using System.Globalization;
using Isola.Controllers;
using Isola.Executors;
using Keys = Isola.Plugins.Shim.Controller.ControllerDataKeys;

namespace Isola.Plugins.Shim.Controller;

/// <summary>Status and Wait of the pause task, and what an unreachable shim means for them.</summary>
internal sealed partial class ShimController
{
    public async Task<ExitStatus> WaitAsync(SandboxContext sandbox, CancellationToken cancellationToken)
    {
        try
        {
            var client = await ClientAsync(sandbox, cancellationToken).ConfigureAwait(false);
            return await client.WaitAsync(sandbox.Id.Value, null, cancellationToken).ConfigureAwait(false);
        }
        catch (IsolaException e) when (e.Code == IsolaErrorCode.Unavailable)
        {
            var address = Get(sandbox.ControllerData, Keys.Address);
            ThrowIfPauseAlive(sandbox, address, e);
            throw IsolaException.NotFound($"sandbox '{sandbox.Id}': its shim ({address}) and its pause are gone; the exit status is lost");
        }
    }

    // The shim at address is unreachable: Unavailable while the pod's pause still runs, so the host keeps the sandbox
    // Pending and retries, rather than reporting an exit that did not happen.
    private static void ThrowIfPauseAlive(SandboxContext sandbox, string address, IsolaException unreachable, string what = "unreachable")
    {
        if (RecordedPause(sandbox) is var (pid, startTime) && PauseProcess.IsAlive(pid, Get(sandbox.ControllerData, Keys.CgroupsPath), startTime))
        {
            throw new IsolaException(IsolaErrorCode.Unavailable,
                $"sandbox '{sandbox.Id}': shim socket {SocketPath(address)} {what} while pause pid {pid} still runs: {unreachable.Message}",
                unreachable);
        }
    }

    private static string SocketPath(string address) =>
        address.IndexOf("unix://", StringComparison.Ordinal) is var i and >= 0 ? address[(i + 7)..] : address;

    public async Task<ControllerStatus> StatusAsync(SandboxContext sandbox, bool verbose, CancellationToken cancellationToken)
    {
        var data = sandbox.ControllerData;
        var address = Get(data, Keys.Address, "");
        var version = uint.TryParse(Get(data, Keys.Version), CultureInfo.InvariantCulture, out var v) ? v : 2;
        DateTimeOffset? startedAt = DateTimeOffset.TryParse(Get(data, Keys.StartedAt), CultureInfo.InvariantCulture, DateTimeStyles.None, out var s) ? s : null;
        if (address.Length == 0)
        {
            if (!Directory.Exists(BundleOf(sandbox)))
            {
                throw IsolaException.NotFound($"sandbox '{sandbox.Id}': no pause bundle and no shim");
            }

            return new ControllerStatus { Ready = false, Info = new Dictionary<string, string> { ["reason"] = "not started" } };
        }

        TaskState state;
        try
        {
            var client = await ClientAsync(sandbox, cancellationToken).ConfigureAwait(false);
            state = await client.StateAsync(sandbox.Id.Value, null, cancellationToken).ConfigureAwait(false);
        }
        catch (IsolaException e) when (e.Code == IsolaErrorCode.Unavailable)
        {
            // runc containers outlive their shim: while the pause runs the pod runs, and the host keeps it Pending.
            ThrowIfPauseAlive(sandbox, address, e);
            return NotReady("shim and pause gone", e.Message);
        }
        catch (IsolaException e) when (e.Code == IsolaErrorCode.NotFound)
        {
            // The shim answers but has no pause task (deleted, or another shim took its socket: a shared shim's
            // successor serves the same address). A pause that still runs is orphaned, not stopped: Unavailable keeps
            // the pod Pending, so Stop and Remove clean it up. Otherwise this pod cannot be driven through the shim.
            ThrowIfPauseAlive(sandbox, address, e, "serves no pause task of this pod");
            return NotReady("the shim has no pause task", e.Message);
        }

        var info = new Dictionary<string, string> { ["status"] = state.Status.ToString(), ["bundle"] = state.Bundle };
        if (verbose)
        {
            info["shim"] = _settings.ShimBinary;
            info["runtime"] = RuntimeOf(sandbox);
            info["cgroupsPath"] = Get(data, Keys.CgroupsPath, "");
        }

        var ready = state.Status == Executors.TaskStatus.Running;
        if (ready && PauseGoneReason(sandbox, state.Pid) is { } gone)
        {
            // The shim reports what it last saw; it learns of an exit only when it reaps it (and never, if the exit
            // reached someone else). The recorded pid and start time say whether that pause really still runs.
            ready = false;
            info["reason"] = gone;
        }

        return new ControllerStatus
        {
            Ready = ready,
            Pid = ready ? state.Pid : 0,
            TaskAddress = address,
            TaskApiVersion = version,
            CreatedAt = startedAt,
            ExitedAt = state.Exit?.ExitedAt,
            Info = info,
        };

        ControllerStatus NotReady(string reason, string error) => new()
        {
            Ready = false,
            TaskAddress = address,
            TaskApiVersion = version,
            CreatedAt = startedAt,
            Info = new Dictionary<string, string> { ["reason"] = reason, ["error"] = error },
        };
    }

    // Null while the pause the shim reports running is the one Start recorded and it is alive; else why not.
    private static string? PauseGoneReason(SandboxContext sandbox, uint reportedPid)
    {
        var cgroupsPath = Get(sandbox.ControllerData, Keys.CgroupsPath);
        if (RecordedPause(sandbox) is not var (pid, startTime))
        {
            return PauseProcess.IsAlive(reportedPid, cgroupsPath) ? null : $"pause pid {reportedPid} is not running";
        }

        if (reportedPid != pid)
        {
            return $"the shim reports pid {reportedPid} for the pause, which was pid {pid}";
        }

        return PauseProcess.IsAlive(pid, cgroupsPath, startTime) ? null : $"pause pid {pid} is gone; its shim has not noticed";
    }

    private static (uint Pid, ulong? StartTime)? RecordedPause(SandboxContext sandbox)
    {
        var data = sandbox.ControllerData;
        if (!uint.TryParse(Get(data, Keys.PausePid), CultureInfo.InvariantCulture, out var pid))
        {
            return null;
        }

        return (pid, ulong.TryParse(Get(data, Keys.PauseStartTime), CultureInfo.InvariantCulture, out var t) ? t : null);
    }
}
