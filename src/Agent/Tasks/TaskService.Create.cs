using System.Globalization;
using System.Text.Json;
using Isola.Agent.Processes;
using Isola.TaskApi.Protos.Task;
using Microsoft.Extensions.Logging;

namespace Isola.Agent.Tasks;

internal sealed partial class TaskService
{
    private async Task<CreateTaskResponse> CreateAsync(CreateTaskRequest request, CancellationToken cancellationToken)
    {
        var id = IdValidator.Validate(request.Id, "container");
        var name = $"container '{id}'";
        if (request.Terminal)
        {
            throw Unimplemented($"{name}: terminal (TTY) containers are not supported yet; run without a terminal");
        }

        var carried = GuestBundle.Carried(request, name);
        if (!request.Bundle.StartsWith('/') || (carried is null && !Directory.Exists(request.Bundle)))
        {
            throw IsolaException.NotFound($"{name}: bundle '{request.Bundle}' does not exist (an absolute directory path is required)");
        }

        var config = Path.Combine(request.Bundle, "config.json");
        if (carried is null && !File.Exists(config))
        {
            throw IsolaException.NotFound($"{name}: bundle {request.Bundle} has no config.json");
        }

        var init = new TaskProcess(id, "", request.Stdin, request.Stdout, request.Stderr);
        var container = new Container(id, request.Bundle, Path.Combine(_stateRoot, id), init) { CarriedConfig = carried };
        if (_runc.HasState(id) || !_containers.TryAdd(id, container))
        {
            throw IsolaException.AlreadyExists($"{name} already exists");
        }

        var created = false;
        try
        {
            await container.Lock.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                await CreateLockedAsync(container, request, config, cancellationToken).ConfigureAwait(false);
                created = true;
            }
            finally
            {
                container.Lock.Release();
            }
        }
        finally
        {
            if (!created)
            {
                _containers.TryRemove(id, out _);
            }
        }

        _logger.LogInformation("{Name}: created, pid {Pid}", name, init.Pid);
        return new CreateTaskResponse { Pid = (uint)init.Pid };
    }

    private async Task CreateLockedAsync(Container container, CreateTaskRequest request, string config, CancellationToken cancellationToken)
    {
        var name = container.Init.Name;
        Directory.CreateDirectory(container.StateDir);
        var pidFile = Path.Combine(container.StateDir, "init.pid");
        try
        {
            if (container.CarriedConfig is { } carried)
            {
                GuestBundle.Write(container.Bundle, carried, name);
                container.OwnsBundle = true;
            }

            var rootfs = RootfsPath(container.Bundle, config, name);
            if (request.Rootfs.Count > 0 && !RootfsMounter.StagedByHost(request.Rootfs, rootfs))
            {
                Directory.CreateDirectory(rootfs);
                container.Mounts = await _mounter.MountAsync(request.Rootfs.ToList(), rootfs, name, cancellationToken).ConfigureAwait(false);
            }
            else if (!Directory.Exists(rootfs))
            {
                throw IsolaException.NotFound($"{name}: rootfs {rootfs} does not exist and the request has no rootfs mounts");
            }

            using var stdio = StdioHandles.Open(request.Stdin, request.Stdout, request.Stderr, name, container.Bundle, _streams, _logger);
            var mark = _reaper.Mark;
            try
            {
                await _runc.CreateAsync(container.Id, container.Bundle, pidFile, container.LogFile, stdio, CancellationToken.None).ConfigureAwait(false);
            }
            catch (RuncException e)
            {
                throw IsolaException.FailedPrecondition($"{name}: runc create failed: {e.Message}");
            }

            var pid = ReadPidFile(pidFile, name);
            container.Init.Relays = stdio.TakeRelays();
            container.Init.Attach(pid, _reaper.Claim(pid, mark));
        }
        catch
        {
            await CleanUpFailedCreateAsync(container).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Undoes a Create that failed part-way: runc's state, the mounts and the agent's own files.</summary>
    private async Task CleanUpFailedCreateAsync(Container container)
    {
        if (_runc.HasState(container.Id))
        {
            try
            {
                await _runc.DeleteAsync(container.Id, force: true, container.LogFile, CancellationToken.None).ConfigureAwait(false);
            }
            catch (RuncException e)
            {
                _logger.LogWarning("{Name}: cleaning up a failed create: runc delete --force: {Error}", container.Init.Name, e.Message);
            }
        }

        RootfsMounter.Unmount(container.Mounts);
        container.Mounts = [];
        RemoveOwnedBundle(container);
        RemoveStateDir(container);
    }

    /// <summary>Removes a bundle the agent wrote itself (a carried config.json), never recursively: a rootfs that
    /// failed to unmount keeps its directory rather than losing its files.</summary>
    private void RemoveOwnedBundle(Container container)
    {
        if (container.OwnsBundle && !GuestBundle.Remove(container.Bundle, out var error))
        {
            _logger.LogWarning("{Name}: cannot remove its bundle {Bundle}: {Error}", container.Init.Name, container.Bundle, error);
        }
    }

    private void RemoveStateDir(Container container)
    {
        try
        {
            Directory.Delete(container.StateDir, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
        catch (IOException e)
        {
            _logger.LogWarning("{Name}: cannot remove {Dir}: {Error}", container.Init.Name, container.StateDir, e.Message);
        }
    }

    /// <summary>The spec's root.path, resolved against the bundle (runc's rule); BUNDLE/rootfs when the spec has none.</summary>
    private static string RootfsPath(string bundle, string config, string name)
    {
        try
        {
            using var spec = JsonDocument.Parse(File.ReadAllBytes(config));
            if (spec.RootElement.TryGetProperty("root", out var root) && root.TryGetProperty("path", out var path)
                && path.GetString() is { Length: > 0 } value)
            {
                return Path.GetFullPath(value, bundle);
            }
        }
        catch (JsonException e)
        {
            throw IsolaException.InvalidArgument($"{name}: {config} is not valid JSON: {e.Message}");
        }

        return Path.Combine(bundle, "rootfs");
    }

    private static int ReadPidFile(string pidFile, string name)
    {
        try
        {
            return int.Parse(File.ReadAllText(pidFile).Trim(), NumberStyles.None, CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or FormatException or OverflowException)
        {
            throw IsolaException.Internal($"{name}: runc wrote no usable pid file {pidFile}: {e.Message}");
        }
    }
}
