using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using Isola.Controllers;
using Isola.Executors;
using Isola.Plugins.Shim.Events;
using Isola.Plugins.Shim.Executor;
using Isola.Plugins.Shim.Launcher;
using Isola.Ttrpc.Client;
using Microsoft.Extensions.Logging;
using Keys = Isola.Plugins.Shim.Controller.ControllerDataKeys;

namespace Isola.Plugins.Shim.Controller;

/// <summary>
/// Pause-container sandboxes on a containerd runtime-v2 shim (containerd-shim-runc-v2 with runc or crun): one shim per
/// pod, whose Task API socket is the sandbox's task address; the pause task is the sandbox's main process.
/// </summary>
internal sealed class ShimController : ISandboxController, IAsyncDisposable
{
    private const string PauseBundleDir = "pause";
    private const string ContainerBundlesDir = "bundles";
    private const string ShimLogFile = "shim.log";
    private static readonly TimeSpan TaskCallTimeout = TimeSpan.FromSeconds(30);

    private readonly ShimControllerOptions _options;
    private readonly ShimSettings _settings;
    private readonly ShimLauncher _launcher;
    private readonly ShimLogDrain _logs;
    private readonly ILogger _logger;
    private readonly string _pauseBinary;
    private readonly ShimClientCache _clients = new();

    public ShimController(ShimControllerOptions options, ShimSettings settings, ILoggerFactory loggerFactory)
    {
        _options = options;
        _settings = settings;
        _logger = loggerFactory.CreateLogger<ShimController>();
        _launcher = new ShimLauncher(settings, _logger);
        _logs = new ShimLogDrain(_logger);
        _pauseBinary = options.PauseBinary ?? PluginPause;
        Events = new ShimEventsServer(settings.TtrpcAddress, _logger);
    }

    /// <summary>The events endpoint shims publish to while this controller lives.</summary>
    public ShimEventsServer Events { get; }

    // Built by the plugin's csproj from Pause/*.c into the plugin's own folder.
    private static string PluginPause => Path.Combine(PluginDirectory, "isola-pause");

    private static string Logger => Path.Combine(PluginDirectory, "isola-logger");

    private static string PluginDirectory => Path.GetDirectoryName(typeof(ShimController).Assembly.Location)!;

    public Task CreateAsync(SandboxContext sandbox, CancellationToken cancellationToken)
    {
        IdValidator.Validate(sandbox.Id, "sandbox");
        var spec = sandbox.Spec;
        var hostname = spec.Hostname ?? spec.Name ?? sandbox.Name;
        if (!IsHostname(hostname))
        {
            throw IsolaException.InvalidArgument($"sandbox '{sandbox.Id}': invalid hostname '{hostname}'");
        }

        if (spec.Network is { Length: > 0 } network && network != SandboxSpec.HostNetwork && !(Path.IsPathFullyQualified(network) && File.Exists(network)))
        {
            throw IsolaException.InvalidArgument($"sandbox '{sandbox.Id}': network '{network}' is neither \"host\" nor an existing network namespace path");
        }

        var parent = spec.CgroupParent ?? _options.CgroupParent;
        if (!ShimControllerOptions.IsCgroupPath(parent))
        {
            throw IsolaException.InvalidArgument($"sandbox '{sandbox.Id}': cgroup parent '{parent}' must be an absolute cgroup path like /isola");
        }

        if (!File.Exists(_pauseBinary))
        {
            throw IsolaException.FailedPrecondition($"sandbox '{sandbox.Id}': pause binary {_pauseBinary} is missing (build src/Plugins.Shim; it needs gcc and libc6-dev)");
        }

        var bundle = DefaultBundleOf(sandbox);
        var cgroupsPath = $"{parent.TrimEnd('/')}/{sandbox.Id}";
        try
        {
            PauseBundle.Write(bundle, sandbox.Id, spec, hostname, cgroupsPath, _pauseBinary);
            File.WriteAllText(Path.Combine(bundle, ContainerBundle.OptionsFile), ContainerBundle.OptionsJson(_options.Runtime));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TryDelete(bundle);
            throw IsolaException.Internal($"sandbox '{sandbox.Id}': cannot write the pause bundle {bundle}: {e.Message}", e);
        }

        var data = sandbox.ControllerData;
        data[Keys.Bundle] = bundle;
        data[Keys.CgroupsPath] = cgroupsPath;
        data[Keys.Namespace] = _settings.Namespace;
        data[Keys.ShimBinary] = _settings.ShimBinary;
        data[Keys.ContainerdAddress] = _settings.ContainerdAddress;
        data[Keys.Runtime] = _options.Runtime;
        return Task.CompletedTask;
    }

    public async Task<ControllerStartResult> StartAsync(SandboxContext sandbox, CancellationToken cancellationToken)
    {
        var bundle = BundleOf(sandbox);
        if (!File.Exists(Path.Combine(bundle, "config.json")))
        {
            throw IsolaException.FailedPrecondition($"sandbox '{sandbox.Id}': no pause bundle at {bundle}; Create it first");
        }

        // The FIFO must have a reader before the shim starts: the daemonised shim opens it for writing.
        var clock = System.Diagnostics.Stopwatch.StartNew();
        _logs.Attach(sandbox.Id, Path.Combine(bundle, "log"), Path.Combine(sandbox.StateDirectory, ShimLogFile));
        var started = await _launcher.StartAsync(sandbox.Id, bundle, cancellationToken).ConfigureAwait(false);
        var shimStarted = clock.Elapsed.TotalMilliseconds;
        sandbox.ControllerData[Keys.Address] = started.TaskAddress;
        sandbox.ControllerData[Keys.Version] = started.Version.ToString(CultureInfo.InvariantCulture);

        var client = await ClientAsync(sandbox, cancellationToken).ConfigureAwait(false);
        await client.CreateAsync(new TaskCreateRequest
        {
            Id = sandbox.Id,
            Bundle = bundle,
            Stdio = new StdioSpec("", "", ""),
            Options = ContainerBundle.ReadOptions(bundle),
        }, cancellationToken).ConfigureAwait(false);
        var created = clock.Elapsed.TotalMilliseconds;
        var pid = await client.StartAsync(sandbox.Id, null, cancellationToken).ConfigureAwait(false);
        var taskStarted = clock.Elapsed.TotalMilliseconds;
        var connect = await client.ConnectAsync(sandbox.Id, cancellationToken).ConfigureAwait(false);
        sandbox.ControllerData[Keys.ShimPid] = connect.ShimPid.ToString(CultureInfo.InvariantCulture);
        await PauseSignals.WaitForHandlersAsync(pid, cancellationToken).ConfigureAwait(false);
        _logger.LogDebug("sandbox {Id} started in {Total:F1} ms: shim start {Shim:F1}, pause Create {Create:F1}, Start {Start:F1}",
            sandbox.Id, clock.Elapsed.TotalMilliseconds, shimStarted, created - shimStarted, taskStarted - created);
        var now = DateTimeOffset.UtcNow;
        sandbox.ControllerData[Keys.PausePid] = pid.ToString(CultureInfo.InvariantCulture);
        sandbox.ControllerData[Keys.StartedAt] = now.ToString("O", CultureInfo.InvariantCulture);
        return new ControllerStartResult(pid, now, started.TaskAddress, started.Version);
    }

    public Task<PlatformInfo> PlatformAsync(SandboxContext sandbox, CancellationToken cancellationToken) =>
        Task.FromResult(new PlatformInfo("linux", RuntimeInformation.OSArchitecture switch
        {
            Architecture.X64 => "amd64",
            Architecture.Arm64 => "arm64",
            Architecture.Arm => "arm",
            Architecture.X86 => "386",
            Architecture.S390x => "s390x",
            Architecture.Ppc64le => "ppc64le",
            Architecture.RiscV64 => "riscv64",
            var other => other.ToString().ToLowerInvariant(),
        }));

    public Task<PrepareResult> PrepareAsync(SandboxContext sandbox, PrepareRequest request, CancellationToken cancellationToken)
    {
        IdValidator.Validate(request.ContainerId, "container");
        var bundle = ContainerBundleOf(sandbox, request.ContainerId);
        if (request.ExecId is not null)
        {
            // An exec process runs in the container's existing bundle; its Process JSON goes straight to Task.Exec.
            IdValidator.Validate(request.ExecId, "exec");
            return Task.FromResult(new PrepareResult(bundle, []) { Stdio = StdioRouting.Translate(request.Stdio, Logger) });
        }

        var rootfs = request.Container.Rootfs;
        if (string.IsNullOrEmpty(rootfs) || !Path.IsPathFullyQualified(rootfs) || !Directory.Exists(rootfs))
        {
            throw IsolaException.InvalidArgument($"container '{request.ContainerId}' in sandbox '{sandbox.Id}': rootfs '{rootfs}' is not an existing directory (absolute path)");
        }

        if (!sandbox.ControllerData.TryGetValue(Keys.PausePid, out var pidText) || !uint.TryParse(pidText, CultureInfo.InvariantCulture, out var pausePid))
        {
            throw IsolaException.FailedPrecondition($"sandbox '{sandbox.Id}' has no running pause process; start it before adding containers");
        }

        JsonObject spec;
        try
        {
            spec = JsonNode.Parse(request.OciSpecJson) as JsonObject ?? throw new FormatException("not a JSON object");
        }
        catch (Exception e) when (e is FormatException or System.Text.Json.JsonException)
        {
            throw IsolaException.InvalidArgument($"container '{request.ContainerId}': the OCI spec is not valid JSON: {e.Message}");
        }

        var cgroup = sandbox.ControllerData.TryGetValue(Keys.CgroupsPath, out var c) ? c : $"{_options.CgroupParent}/{sandbox.Id}";
        ContainerBundle.Adjust(spec, sandbox.Id, request.ContainerId, pausePid, Path.GetFullPath(rootfs), request.Container.ReadOnlyRootfs, cgroup);
        try
        {
            Directory.CreateDirectory(bundle, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            File.WriteAllText(Path.Combine(bundle, "config.json"), spec.ToJsonString());
            File.WriteAllText(Path.Combine(bundle, ContainerBundle.OptionsFile), ContainerBundle.OptionsJson(RuntimeOf(sandbox)));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TryDelete(bundle);
            throw IsolaException.Internal($"container '{request.ContainerId}': cannot write its bundle {bundle}: {e.Message}", e);
        }

        return Task.FromResult(new PrepareResult(bundle, []) { Stdio = StdioRouting.Translate(request.Stdio, Logger) });
    }

    public Task PurgeAsync(SandboxContext sandbox, PurgeRequest request, CancellationToken cancellationToken)
    {
        if (request.ExecId is null && IdValidator.IsValid(request.ContainerId))
        {
            TryDelete(ContainerBundleOf(sandbox, request.ContainerId));
        }

        return Task.CompletedTask;
    }

    public async Task UpdateResourcesAsync(SandboxContext sandbox, UpdateResourcesRequest request, CancellationToken cancellationToken)
    {
        var client = await ClientAsync(sandbox, cancellationToken).ConfigureAwait(false);
        await client.UpdateAsync(request.ContainerId ?? sandbox.Id, request.Resources, request.Annotations, cancellationToken).ConfigureAwait(false);
    }

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
        await Task.WhenAll(tasks.Select(id => StopTaskAsync(client, id, timeout, cancellationToken))).ConfigureAwait(false);
    }

    public async Task<ExitStatus> WaitAsync(SandboxContext sandbox, CancellationToken cancellationToken)
    {
        try
        {
            var client = await ClientAsync(sandbox, cancellationToken).ConfigureAwait(false);
            return await client.WaitAsync(sandbox.Id, null, cancellationToken).ConfigureAwait(false);
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
    private static void ThrowIfPauseAlive(SandboxContext sandbox, string address, IsolaException unreachable)
    {
        var data = sandbox.ControllerData;
        if (uint.TryParse(Get(data, Keys.PausePid), CultureInfo.InvariantCulture, out var pid) &&
            PauseProcess.IsAlive(pid, Get(data, Keys.CgroupsPath)))
        {
            throw new IsolaException(IsolaErrorCode.Unavailable,
                $"sandbox '{sandbox.Id}': shim socket {SocketPath(address)} unreachable while pause pid {pid} still runs: {unreachable.Message}",
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
            state = await client.StateAsync(sandbox.Id, null, cancellationToken).ConfigureAwait(false);
        }
        catch (IsolaException e) when (e.Code == IsolaErrorCode.Unavailable)
        {
            // runc containers outlive their shim: while the pause runs the pod runs, and the host keeps it Pending.
            ThrowIfPauseAlive(sandbox, address, e);
            return new ControllerStatus
            {
                Ready = false,
                TaskAddress = address,
                TaskApiVersion = version,
                CreatedAt = startedAt,
                Info = new Dictionary<string, string> { ["reason"] = "shim and pause gone", ["error"] = e.Message },
            };
        }

        var info = new Dictionary<string, string> { ["status"] = state.Status.ToString(), ["bundle"] = state.Bundle };
        if (verbose)
        {
            info["shim"] = _settings.ShimBinary;
            info["runtime"] = RuntimeOf(sandbox);
            info["cgroupsPath"] = Get(data, Keys.CgroupsPath, "");
        }

        return new ControllerStatus
        {
            Ready = state.Status == Executors.TaskStatus.Running,
            Pid = state.Status == Executors.TaskStatus.Running ? state.Pid : 0,
            TaskAddress = address,
            TaskApiVersion = version,
            CreatedAt = startedAt,
            ExitedAt = state.Exit?.ExitedAt,
            Info = info,
        };
    }

    public async Task ShutdownAsync(SandboxContext sandbox, CancellationToken cancellationToken)
    {
        var bundle = BundleOf(sandbox);
        var containers = ContainerIds(sandbox).ToList();
        if (sandbox.ControllerData.ContainsKey(Keys.Address))
        {
            var graceful = false;
            try
            {
                var client = await ClientAsync(sandbox, cancellationToken).ConfigureAwait(false);
                foreach (var id in containers)
                {
                    await DeleteTaskAsync(client, id, cancellationToken).ConfigureAwait(false);
                }

                await DeleteTaskAsync(client, sandbox.Id, cancellationToken).ConfigureAwait(false);
                graceful = true;
                await ShutdownShimAsync(client, sandbox, cancellationToken).ConfigureAwait(false);
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
    }

    /// <summary>Stops the events server and the log drain, and closes shim connections. Shims and pods keep running.</summary>
    public async ValueTask DisposeAsync()
    {
        await _clients.DisposeAsync().ConfigureAwait(false);
        _logs.Dispose();
        await Events.DisposeAsync().ConfigureAwait(false);
    }

    private async Task<TaskServiceClient> ClientAsync(SandboxContext sandbox, CancellationToken cancellationToken)
    {
        if (!sandbox.ControllerData.TryGetValue(Keys.Address, out var address))
        {
            throw IsolaException.FailedPrecondition($"sandbox '{sandbox.Id}' has not been started (no shim address)");
        }

        return await _clients.GetAsync(sandbox.Id, address, () => ConnectAsync(sandbox, address), cancellationToken).ConfigureAwait(false);
    }

    private async Task<TaskServiceClient> ConnectAsync(SandboxContext sandbox, string address)
    {
        var version = uint.TryParse(Get(sandbox.ControllerData, Keys.Version), CultureInfo.InvariantCulture, out var v) ? v : 2;
        var endpoint = TaskEndpoint.Parse(address, version);
        var ns = Get(sandbox.ControllerData, Keys.Namespace, _settings.Namespace);
        TtrpcClient ttrpc;
        try
        {
            // Shared by every caller waiting for this connection, so bounded by its own timeout, not one caller's token.
            using var timeout = new CancellationTokenSource(TaskCallTimeout);
            ttrpc = await TtrpcClient.ConnectAsync(address, new TtrpcClientOptions
            {
                Metadata = new Dictionary<string, string> { [TtrpcClientOptions.NamespaceKey] = ns },
                DefaultTimeout = TaskCallTimeout,
            }, timeout.Token).ConfigureAwait(false);
        }
        catch (IsolaException e)
        {
            throw new IsolaException(e.Code, $"sandbox '{sandbox.Id}': shim at {address} unreachable: {e.Message}", e);
        }
        catch (OperationCanceledException e)
        {
            throw IsolaException.Unavailable($"sandbox '{sandbox.Id}': shim at {address} did not accept a connection within {TaskCallTimeout.TotalSeconds:F0} s", e);
        }

        if (!sandbox.ControllerData.ContainsKey(Keys.PausePid) || !_logs.IsAttached(sandbox.Id))
        {
            ReattachLog(sandbox);
        }

        return new TaskServiceClient(ttrpc, endpoint);
    }

    // After a host restart the shim still writes to its bundle's FIFO; resume copying it.
    private void ReattachLog(SandboxContext sandbox)
    {
        var fifo = Path.Combine(BundleOf(sandbox), "log");
        if (File.Exists(fifo) && !_logs.IsAttached(sandbox.Id))
        {
            try
            {
                _logs.Attach(sandbox.Id, fifo, Path.Combine(sandbox.StateDirectory, ShimLogFile), reuse: true);
            }
            catch (IsolaException e)
            {
                _logger.LogWarning("sandbox {Id}: {Error}", sandbox.Id, e.Message);
            }
        }
    }

    private Task ForgetClientAsync(string sandboxId) => _clients.ForgetAsync(sandboxId);

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
        var (ns, address) = (Get(sandbox.ControllerData, Keys.Namespace, _settings.Namespace), Get(sandbox.ControllerData, Keys.ContainerdAddress, _settings.ContainerdAddress));
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
        foreach (var id in ContainerIds(sandbox))
        {
            await _launcher.DeleteAsync(id, ContainerBundleOf(sandbox, id), cancellationToken).ConfigureAwait(false);
        }

        await _launcher.DeleteAsync(sandbox.Id, BundleOf(sandbox), cancellationToken).ConfigureAwait(false);
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

    private IEnumerable<string> ContainerIds(SandboxContext sandbox)
    {
        var dir = Path.Combine(sandbox.StateDirectory, ContainerBundlesDir);
        return Directory.Exists(dir)
            ? Directory.EnumerateDirectories(dir).Select(Path.GetFileName).Where(IdValidator.IsValid).Select(id => id!)
            : [];
    }

    private string RuntimeOf(SandboxContext sandbox) => Get(sandbox.ControllerData, Keys.Runtime, _options.Runtime);

    private static string BundleOf(SandboxContext sandbox) =>
        sandbox.ControllerData.TryGetValue(Keys.Bundle, out var b) ? b : DefaultBundleOf(sandbox);

    // A bundle directory is named after its task: `shim delete` finds the runtime's state in ../ID of its cwd.
    private static string DefaultBundleOf(SandboxContext sandbox) => Path.Combine(sandbox.StateDirectory, PauseBundleDir, sandbox.Id);

    private static string ContainerBundleOf(SandboxContext sandbox, string containerId) =>
        Path.Combine(sandbox.StateDirectory, ContainerBundlesDir, containerId);

    private static string Get(IDictionary<string, string> data, string key, string fallback = "") =>
        data.TryGetValue(key, out var value) ? value : fallback;

    private static bool IsHostname(string name) =>
        name.Length is > 0 and <= 63 && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.') && name[0] != '-';

    private static void TryDelete(string dir)
    {
        if (Directory.Exists(dir))
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
