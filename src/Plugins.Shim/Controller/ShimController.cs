using System.Globalization;
using System.Runtime.InteropServices;
using Isola.Controllers;
using Isola.Executors;
using Isola.Plugins;
using Isola.Plugins.Shim.Diagnostics;
using Isola.Plugins.Shim.Events;
using Isola.Plugins.Shim.Launcher;
using Microsoft.Extensions.Logging;
using Keys = Isola.Plugins.Shim.Controller.ControllerDataKeys;

namespace Isola.Plugins.Shim.Controller;

/// <summary>
/// Pause-container sandboxes on a containerd runtime-v2 shim (containerd-shim-runc-v2 with runc or crun): one shim per
/// pod (or one for all pods of the runtime: ShimController.Group.cs), whose Task API socket is the sandbox's task
/// address; the pause task is the sandbox's main process.
/// </summary>
internal sealed partial class ShimController : ISandboxController, IAsyncDisposable
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
    private readonly EventsEndpoint _events;
    private readonly IPluginServices _services;

    public ShimController(ShimControllerOptions options, ShimSettings settings, ILoggerFactory loggerFactory, IPluginServices services)
    {
        _options = options;
        _settings = settings;
        _services = services;
        _logger = loggerFactory.CreateLogger<ShimController>();
        // A host that does not serve events (the short-lived CLI) binds nothing and loads no ttrpc server: it only makes
        // sure the endpoint's file exists before each shim launch.
        _events = new EventsEndpoint(settings.TtrpcAddress, options.ServeEvents, _logger);
        _launcher = new ShimLauncher(_events, _logger);
        _logs = new ShimLogDrain(_logger);
        _pauseBinary = options.PauseBinary ?? PluginPause;
        if (options.ServeEvents)
        {
            ServeEventsNow();
        }
    }

    /// <summary>The events endpoint every shim of this state root and runtime publishes to.</summary>
    public EventsEndpoint EventsEndpoint => _events;

    /// <summary>This host's events server: from the first access on, it serves the endpoint whenever no other live
    /// host does; null while another does.</summary>
    public ShimEventsServer? Events => _events.Server;

    // Built by the plugin's csproj from Pause/*.c into the plugin's own folder.
    private static string PluginPause => Path.Combine(PluginDirectory, "isola-pause");

    private static string Logger => Path.Combine(PluginDirectory, "isola-logger");

    private static string PluginDirectory => Path.GetDirectoryName(typeof(ShimController).Assembly.Location)!;

    public Task CreateAsync(SandboxContext sandbox, CancellationToken cancellationToken)
    {
        var spec = sandbox.Spec;
        var hostname = spec.Hostname ?? PodHostname.FromName(spec.Name ?? sandbox.Name);
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
        // The leaf carries the state root's tag: runc and cgroups know nothing of state roots, and the same sandbox id
        // under two roots must make two cgroups (see ShimControllerFactory.SettingsFor).
        var cgroupsPath = $"{parent.TrimEnd('/')}/{_settings.StateRootTag}-{sandbox.Id}";
        using var phase = ShimActivities.Phase("pause bundle", sandbox.Id.Value);
        try
        {
            var group = _options.ShimGrouping == ShimGrouping.Runtime ? _settings.GroupId : null;
            PauseBundle.Write(bundle, sandbox.Id.Value, spec, hostname, cgroupsPath, PauseRootfs.Ensure(_pauseBinary), group);
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
        if (_options.ShimGrouping == ShimGrouping.Runtime)
        {
            data[Keys.Group] = _settings.GroupId;
            data[Keys.GroupDirectory] = _settings.GroupDirectory;
        }

        return Task.CompletedTask;
    }

    public async Task<ControllerStartResult> StartAsync(SandboxContext sandbox, CancellationToken cancellationToken)
    {
        var bundle = BundleOf(sandbox);
        if (!File.Exists(Path.Combine(bundle, "config.json")))
        {
            throw IsolaException.FailedPrecondition($"sandbox '{sandbox.Id}': no pause bundle at {bundle}; Create it first");
        }

        // runc makes its namespace directory in the pause's Create; Shutdown removes it once empty (RemoveEmptyNamespacesAsync).
        using var starting = StartsLock.Shared();

        // The FIFO must have a reader before the shim starts: the daemonised shim opens it for writing.
        ShimStartResult started;
        using (ShimActivities.Phase("shim start", sandbox.Id.Value))
        {
            if (GroupOf(sandbox) is { } group)
            {
                // The shared shim's `start` runs in the group's directory, under the group's id: it launches the shim
                // or finds the live one.
                // One `start` at a time in the directory: each writes the address file through the same temporary name.
                var dir = JoinGroup(sandbox);
                using var serial = await Shim.Events.DirectoryLock.TryExclusiveAsync(dir, GroupStartPatience).ConfigureAwait(false)
                    ?? throw IsolaException.Unavailable($"sandbox '{sandbox.Id}': other pods kept starting the shared shim in {dir} for {GroupStartPatience.TotalSeconds:F0} s");
                started = await _launcher.StartAsync(group, dir, SettingsOf(sandbox), cancellationToken).ConfigureAwait(false);
            }
            else
            {
                _logs.Attach(sandbox.Id.Value, Path.Combine(bundle, "log"), Path.Combine(sandbox.StateDirectory, ShimLogFile));
                started = await _launcher.StartAsync(sandbox.Id.Value, bundle, SettingsOf(sandbox), cancellationToken).ConfigureAwait(false);
            }
        }

        // Everything a later host needs to find this shim is known from here on: persisting the data now (a checkpoint)
        // lets a host that dies inside Task Create be cleaned up through the shim. Teardown also copes without it, from
        // the bundle's address file and config.json.
        sandbox.ControllerData[Keys.Address] = started.TaskAddress;
        sandbox.ControllerData[Keys.Version] = started.Version.ToString(CultureInfo.InvariantCulture);
        // A shim now runs for this sandbox: a host that dies from here on must find its address in the record, so that
        // recovery deletes the pause task (runc state, cgroups, a blocked `runc init`) through it before killing it.
        sandbox.Checkpoint();

        ITaskClient client;
        using (ShimActivities.Phase("connect", sandbox.Id.Value))
        {
            client = await ClientAsync(sandbox, cancellationToken).ConfigureAwait(false);
        }

        using (ShimActivities.Phase("pause create", sandbox.Id.Value))
        {
            await client.CreateAsync(new TaskCreateRequest
            {
                Id = sandbox.Id.Value,
                Bundle = bundle,
                Stdio = new StdioSpec("", "", ""),
                Options = RuncShimOptions.For(RuntimeOf(sandbox)),
            }, cancellationToken).ConfigureAwait(false);
        }

        uint pid;
        using (ShimActivities.Phase("pause start", sandbox.Id.Value))
        {
            pid = await client.StartAsync(sandbox.Id.Value, null, cancellationToken).ConfigureAwait(false);
        }

        using (ShimActivities.Phase("shim pid + pause SIGTERM handler", sandbox.Id.Value))
        {
            // Independent: the shim's pid (one round trip) while the pause installs its handler.
            var connect = client.ConnectAsync(sandbox.Id.Value, cancellationToken);
            await PauseSignals.WaitForHandlersAsync(pid, cancellationToken).ConfigureAwait(false);
            sandbox.ControllerData[Keys.ShimPid] = (await connect.ConfigureAwait(false)).ShimPid.ToString(CultureInfo.InvariantCulture);
        }

        var now = DateTimeOffset.UtcNow;
        sandbox.ControllerData[Keys.PausePid] = pid.ToString(CultureInfo.InvariantCulture);
        if (PauseProcess.StartTime(pid) is { } startTime)
        {
            sandbox.ControllerData[Keys.PauseStartTime] = startTime.ToString(CultureInfo.InvariantCulture);
        }

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

    public async Task UpdateResourcesAsync(SandboxContext sandbox, UpdateResourcesRequest request, CancellationToken cancellationToken)
    {
        var client = await ClientAsync(sandbox, cancellationToken).ConfigureAwait(false);
        await client.UpdateAsync(request.ContainerId?.Value ?? sandbox.Id.Value, request.Resources, request.Annotations, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Stops serving events and the log drain, closes shim connections, and removes the events endpoints and
    /// runc namespace directories of state roots that no live shim or pod needs any more. Shims and pods keep running.</summary>
    public async ValueTask DisposeAsync()
    {
        await _clients.DisposeAsync().ConfigureAwait(false);
        _logs.Dispose();
        var used = _events.Used;
        await _events.DisposeAsync().ConfigureAwait(false);
        if (used)
        {
            // Those of state roots whose last host went while a start held the lock (a state root is often short-lived).
            await RemoveEmptyNamespacesAsync(null, TimeSpan.FromSeconds(1)).ConfigureAwait(false);
        }
    }

    // A host configured to serve events takes the endpoint at once, so it hears shims that other hosts started too. Not
    // fatal: every launch tries again.
    private void ServeEventsNow()
    {
        try
        {
            _ = _events.Server;
        }
        catch (Exception e) when (e is IsolaException or IOException or UnauthorizedAccessException)
        {
            _logger.LogWarning("cannot serve shim events on {Path}: {Error}", _settings.TtrpcAddress, e.Message);
        }
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
    private static string DefaultBundleOf(SandboxContext sandbox) => Path.Combine(sandbox.StateDirectory, PauseBundleDir, sandbox.Id.Value);

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
