using System.Text.Json;
using Google.Protobuf.WellKnownTypes;
using Isola.Agent.Processes;
using Isola.TaskApi.Protos.Task;
using Microsoft.Extensions.Logging;

namespace Isola.Agent.Tasks;

internal sealed partial class TaskService
{
    /// <summary>What a never-started exec reports as its exit status (containerd's shims use 255 the same way).</summary>
    private const uint FailedStartStatus = 255;

    private async Task<StartResponse> StartAsync(StartRequest request, CancellationToken cancellationToken)
    {
        var container = Find(request.Id);
        var process = FindProcess(request.Id, request.ExecId);
        await container.Lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (process.Started || process.HasExited)
            {
                throw IsolaException.FailedPrecondition($"{process.Name} was already started");
            }

            if (process.ExecId.Length == 0)
            {
                try
                {
                    await _runc.StartAsync(container.Id, process.Pid, container.LogFile, CancellationToken.None).ConfigureAwait(false);
                }
                catch (RuncException e)
                {
                    throw IsolaException.FailedPrecondition($"{process.Name}: runc start failed: {e.Message}");
                }

                process.Started = true;
            }
            else
            {
                await StartExecLockedAsync(container, process).ConfigureAwait(false);
            }
        }
        finally
        {
            container.Lock.Release();
        }

        _logger.LogInformation("{Name}: started, pid {Pid}", process.Name, process.Pid);
        return new StartResponse { Pid = (uint)process.Pid };
    }

    private async Task StartExecLockedAsync(Container container, TaskProcess exec)
    {
        if (!container.Init.Started || container.Init.HasExited)
        {
            throw IsolaException.FailedPrecondition($"{exec.Name}: the container is not running");
        }

        var pidFile = Path.Combine(container.StateDir, $"exec-{exec.ExecId}.pid");
        var processFile = ExecSpecFile(container, exec.ExecId);
        using var stdio = StdioHandles.Open(exec.Stdin, exec.Stdout, exec.Stderr, exec.Name, container.Bundle, _streams, _logger);
        var mark = _reaper.Mark;
        try
        {
            await _runc.ExecAsync(container.Id, processFile, pidFile, container.LogFile, stdio, CancellationToken.None).ConfigureAwait(false);
        }
        catch (RuncException e)
        {
            exec.NeverRan(FailedStartStatus);
            throw IsolaException.FailedPrecondition($"{exec.Name}: runc exec failed: {e.Message}");
        }

        var pid = ReadPidFile(pidFile, exec.Name);
        exec.Relays = stdio.TakeRelays();
        exec.Attach(pid, _reaper.Claim(pid, mark));
        exec.Started = true;
    }

    private static string ExecSpecFile(Container container, string execId) => Path.Combine(container.StateDir, $"exec-{execId}.json");

    private async Task<Empty> ExecAsync(ExecProcessRequest request, CancellationToken cancellationToken)
    {
        var container = Find(request.Id);
        IdValidator.Validate(request.ExecId, "exec");
        var name = Describe(request.Id, request.ExecId);
        if (request.Terminal)
        {
            throw Unimplemented($"{name}: terminal (TTY) processes are not supported yet; run without a terminal");
        }

        if (request.Spec is null || request.Spec.Value.IsEmpty)
        {
            throw IsolaException.InvalidArgument($"{name}: the request has no process spec");
        }

        try
        {
            using var spec = JsonDocument.Parse(request.Spec.Value.Memory);
            if (spec.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw IsolaException.InvalidArgument($"{name}: the process spec is not a JSON object");
            }
        }
        catch (JsonException e)
        {
            throw IsolaException.InvalidArgument($"{name}: the process spec is not JSON (type {request.Spec.TypeUrl}): {e.Message}");
        }

        // Checked now rather than at Start, so a bad stdio path fails the Exec call that carried it.
        _ = StdioHandles.LocalPath(request.Stdin, name, "stdin");
        _ = StdioHandles.LocalPath(request.Stdout, name, "stdout");
        _ = StdioHandles.LocalPath(request.Stderr, name, "stderr");

        await container.Lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (container.Init.HasExited)
            {
                throw IsolaException.FailedPrecondition($"{name}: the container has exited");
            }

            var exec = new TaskProcess(request.Id, request.ExecId, request.Stdin, request.Stdout, request.Stderr);
            if (!container.Execs.TryAdd(request.ExecId, exec))
            {
                throw IsolaException.AlreadyExists($"{name} already exists");
            }

            await File.WriteAllBytesAsync(ExecSpecFile(container, request.ExecId), request.Spec.Value.ToByteArray(), CancellationToken.None).ConfigureAwait(false);
        }
        finally
        {
            container.Lock.Release();
        }

        return new Empty();
    }

    private async Task<DeleteResponse> DeleteAsync(DeleteRequest request, CancellationToken cancellationToken)
    {
        var container = Find(request.Id);
        var process = FindProcess(request.Id, request.ExecId);
        await container.Lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return process.ExecId.Length == 0
                ? await DeleteContainerLockedAsync(container).ConfigureAwait(false)
                : DeleteExecLocked(container, process);
        }
        finally
        {
            container.Lock.Release();
        }
    }

    private static DeleteResponse DeleteExecLocked(Container container, TaskProcess exec)
    {
        if (exec.Started && !exec.HasExited)
        {
            throw IsolaException.FailedPrecondition($"{exec.Name} is still running: kill it first");
        }

        container.Execs.TryRemove(exec.ExecId, out _);
        exec.CloseRelays();
        File.Delete(ExecSpecFile(container, exec.ExecId));
        File.Delete(Path.Combine(container.StateDir, $"exec-{exec.ExecId}.pid"));
        var deleted = Deleted(exec);
        exec.NeverRan(FailedStartStatus); // a Wait on an exec deleted before it started returns rather than hanging
        return deleted;
    }

    private async Task<DeleteResponse> DeleteContainerLockedAsync(Container container)
    {
        var init = container.Init;
        if (init.Started && !init.HasExited)
        {
            throw IsolaException.FailedPrecondition($"{init.Name} is still running: kill it first");
        }

        try
        {
            // A created container's init still waits inside runc: --force kills it.
            await (init.HasExited
                ? _runc.DeleteStoppedAsync(container.Id, container.LogFile, CancellationToken.None)
                : _runc.DeleteAsync(container.Id, force: true, container.LogFile, CancellationToken.None)).ConfigureAwait(false);
        }
        catch (RuncException e) when (_runc.HasState(container.Id))
        {
            throw IsolaException.FailedPrecondition($"{init.Name}: runc delete failed: {e.Message}");
        }

        if (!init.HasExited)
        {
            // Killed by delete --force: its exit arrives through the reaper in a moment.
            await Task.WhenAny(init.Exited, Task.Delay(TimeSpan.FromSeconds(5))).ConfigureAwait(false);
            init.NeverRan(128 + 9);
        }

        init.CloseRelays();
        foreach (var exec in container.Execs.Values)
        {
            exec.CloseRelays();
        }

        RootfsMounter.Unmount(container.Mounts);
        container.Mounts = [];
        RemoveOwnedBundle(container);
        RemoveStateDir(container);
        _containers.TryRemove(container.Id, out _);
        _logger.LogInformation("{Name}: deleted", init.Name);
        return Deleted(init);
    }

    private static DeleteResponse Deleted(TaskProcess process) => new()
    {
        Pid = (uint)process.Pid,
        ExitStatus = process.HasExited ? process.Exited.Result.Status : 0,
        ExitedAt = ExitTime(process),
    };
}
