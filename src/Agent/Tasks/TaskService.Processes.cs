using System.Runtime.InteropServices;
using Google.Protobuf.WellKnownTypes;
using Isola.Agent.Native;
using Isola.Agent.Processes;
using Isola.TaskApi.Protos.Task;
using Isola.TaskApi.Protos.Types;

namespace Isola.Agent.Tasks;

internal sealed partial class TaskService
{
    private StateResponse State(StateRequest request)
    {
        var container = Find(request.Id);
        var process = FindProcess(request.Id, request.ExecId);
        return new StateResponse
        {
            Id = request.Id,
            ExecId = request.ExecId,
            Bundle = container.Bundle,
            Pid = (uint)process.Pid,
            Status = process.Status,
            Stdin = process.Stdin,
            Stdout = process.Stdout,
            Stderr = process.Stderr,
            Terminal = false,
            ExitStatus = process.HasExited ? process.Exited.Result.Status : 0,
            ExitedAt = ExitTime(process),
        };
    }

    private async Task<WaitResponse> WaitAsync(WaitRequest request, CancellationToken cancellationToken)
    {
        var process = FindProcess(request.Id, request.ExecId);
        var exit = await process.Exited.WaitAsync(cancellationToken).ConfigureAwait(false);
        return new WaitResponse { ExitStatus = exit.Status, ExitedAt = Timestamp.FromDateTimeOffset(exit.ExitedAt) };
    }

    private async Task<Empty> KillAsync(KillRequest request, CancellationToken cancellationToken)
    {
        var container = Find(request.Id);
        var process = FindProcess(request.Id, request.ExecId);
        if (request.Signal is 0 or > 64)
        {
            throw IsolaException.InvalidArgument($"{process.Name}: invalid signal {request.Signal}");
        }

        if (process.ExecId.Length > 0)
        {
            if (!process.Started || process.HasExited)
            {
                throw IsolaException.NotFound($"{process.Name} is not running");
            }

            if (LibC.kill(process.Pid, (int)request.Signal) != 0 && Marshal.GetLastPInvokeError() != LibC.ESRCH)
            {
                throw IsolaException.Internal($"{process.Name}: kill({process.Pid}, {request.Signal}): {LibC.LastError()}");
            }

            return new Empty();
        }

        if (process.HasExited && !request.All)
        {
            throw IsolaException.NotFound($"{process.Name} is not running: its process has exited");
        }

        try
        {
            await _runc.KillAsync(container.Id, request.Signal, request.All, container.LogFile, cancellationToken).ConfigureAwait(false);
        }
        catch (RuncException) when (process.HasExited)
        {
            // --all after the init exited: nothing left to signal.
        }
        catch (RuncException e)
        {
            throw IsolaException.FailedPrecondition($"{process.Name}: runc kill failed: {e.Message}");
        }

        return new Empty();
    }

    /// <summary>New cgroup limits: the request carries OCI linux.resources as JSON (containerd's type url
    /// types.containerd.io/opencontainers/runtime-spec/1/LinuxResources), which runc applies as it is.</summary>
    private async Task<Empty> UpdateAsync(UpdateTaskRequest request, CancellationToken cancellationToken)
    {
        var container = Find(request.Id);
        var name = container.Init.Name;
        if (request.Resources is null || request.Resources.Value.IsEmpty)
        {
            throw IsolaException.InvalidArgument($"{name}: Update carries no resources");
        }

        try
        {
            using var json = System.Text.Json.JsonDocument.Parse(request.Resources.Value.Memory);
            if (json.RootElement.ValueKind != System.Text.Json.JsonValueKind.Object)
            {
                throw IsolaException.InvalidArgument($"{name}: the resources are not a JSON object");
            }
        }
        catch (System.Text.Json.JsonException e)
        {
            throw IsolaException.InvalidArgument($"{name}: the resources are not JSON (type {request.Resources.TypeUrl}): {e.Message}");
        }

        await container.Lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var file = Path.Combine(container.StateDir, "resources.json");
            await File.WriteAllBytesAsync(file, request.Resources.Value.ToByteArray(), CancellationToken.None).ConfigureAwait(false);
            await _runc.UpdateAsync(container.Id, file, container.LogFile, CancellationToken.None).ConfigureAwait(false);
        }
        catch (RuncException e)
        {
            throw IsolaException.FailedPrecondition($"{name}: runc update failed: {e.Message}");
        }
        finally
        {
            container.Lock.Release();
        }

        return new Empty();
    }

    private async Task<PidsResponse> PidsAsync(PidsRequest request, CancellationToken cancellationToken)
    {
        var container = Find(request.Id);
        IReadOnlyList<uint> pids;
        try
        {
            pids = await _runc.PsAsync(container.Id, container.LogFile, cancellationToken).ConfigureAwait(false);
        }
        catch (RuncException e)
        {
            throw IsolaException.FailedPrecondition($"{container.Init.Name}: runc ps failed: {e.Message}");
        }

        var response = new PidsResponse();
        response.Processes.AddRange(pids.Select(pid => new ProcessInfo { Pid = pid }));
        return response;
    }

    private StatsResponse Stats(StatsRequest request)
    {
        var container = Find(request.Id);
        if (container.Init.HasExited)
        {
            throw IsolaException.NotFound($"{container.Init.Name} has exited: no statistics");
        }

        return new StatsResponse { Stats = _stats.Read(container.Init.Pid, container.Init.Name) };
    }

    /// <summary>Stdin is a file or /dev/null that the process reads by itself to EOF: nothing the agent holds open, so
    /// closing it is done once the process is known.</summary>
    private Empty CloseIO(CloseIORequest request)
    {
        FindProcess(request.Id, request.ExecId);
        return new Empty();
    }
}
