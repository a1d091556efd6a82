using System.Text.Json;
using Isola.Plugins.StratoVirt.Native;
using Isola.Plugins.StratoVirt.Qmp;
using Isola.Plugins.StratoVirt.Vmm.Hotplug;
using Isola.Plugins.StratoVirt.Vmm.Processes;
using Isola.Vmm;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Isola.Plugins.StratoVirt.Vmm;

/// <summary>
/// What the StratoVirt and QEMU VMMs share: validation, the virtiofs daemon before the VMM, launch and QMP connect
/// under the start deadline, and re-attaching from recovery data. The <see cref="VmmDialect"/> supplies the command
/// line, the hot-plug slots and the default virtiofs daemon arguments; a subclass only names itself and its dialect.
/// </summary>
internal abstract class QmpVmm : IVmm
{
    private readonly VmmDialect _dialect;
    private readonly ILoggerFactory _loggers;

    protected QmpVmm(VmmDialect dialect, ILoggerFactory? loggers)
    {
        _dialect = dialect;
        _loggers = loggers ?? NullLoggerFactory.Instance;
    }

    public string Name => _dialect.Name;

    /// <summary>The same VMM logging to <paramref name="loggers"/> (plugins register before a logger factory exists).</summary>
    public abstract QmpVmm WithLoggers(ILoggerFactory loggers);

    /// <inheritdoc />
    public IVmm WithLoggerFactory(ILoggerFactory loggerFactory) => WithLoggers(loggerFactory);

    /// <summary>The hot-plug slots the VM has.</summary>
    internal IReadOnlyList<HotplugSlot> Slots(VmLaunchSpec spec, VmSettings settings) => _dialect.HotplugSlots(spec, settings);

    public IReadOnlyList<string> BuildCommandLine(VmLaunchSpec spec) =>
        _dialect.BuildCommandLine(spec, VmSettings.Parse(spec.Extra), new VmLayout(spec.StateDirectory));

    public async Task<IVmInstance> LaunchAsync(VmLaunchSpec spec, CancellationToken cancellationToken)
    {
        var settings = VmSettings.Parse(spec.Extra);
        var layout = new VmLayout(spec.StateDirectory);
        Validate(spec, settings, layout);
        Directory.CreateDirectory(spec.StateDirectory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var logger = _loggers.CreateLogger("Isola.Vmm." + Name);
        var argv = _dialect.BuildCommandLine(spec, settings, layout);
        logger.LogDebug("VM {Id}: {CommandLine}", spec.Id, string.Join(' ', argv));

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(spec.StartTimeout);
        ProcessIdentity? virtiofsd = null;
        if (spec.SharedDirectory is not null)
        {
            var daemon = spec.VirtiofsDaemon ?? throw IsolaException.InvalidArgument($"VM {spec.Id}: a shared directory needs a virtiofs daemon binary");
            virtiofsd = await VirtiofsDaemon.StartAsync(spec.Id.Value, daemon, settings.VirtiofsArgs ?? _dialect.DefaultVirtiofsArgs, layout.VirtiofsSocket,
                spec.SharedDirectory, layout.VirtiofsLog, spec.StartTimeout, cancellationToken).ConfigureAwait(false);
        }

        try
        {
            if (settings.VsockFd is { } fd && LibC.Fcntl(fd, LibC.F_SETFD, 0) != 0)
            {
                throw IsolaException.Internal($"VM {spec.Id}: cannot pass vhost-vsock descriptor {fd} to the VMM: {LibC.LastError()}");
            }

            var qmpOptions = new QmpClientOptions { CommandTimeout = settings.QmpTimeout };
            var (vmm, qmp) = await VmmLauncher.LaunchAsync(spec.Id.Value, argv, layout, spec.StartTimeout, qmpOptions, logger, cancellationToken).ConfigureAwait(false);
            RestrictSockets(layout);
            logger.LogInformation("VM {Id}: {Vmm} pid {Pid} up, QMP {Socket} ({Package})", spec.Id, Name, vmm.Pid, layout.QmpSocket, qmp.Greeting.Package);
            return new QmpVmInstance(spec.Id.Value, Name, layout, vmm, virtiofsd, qmp,
                new SlotAllocator(Slots(spec, settings), []), settings.UnplugTimeout, logger);
        }
        catch
        {
            if (virtiofsd is { } v)
            {
                await VmmLauncher.KillAndWaitAsync(v, TimeSpan.FromSeconds(5)).ConfigureAwait(false);
                File.Delete(layout.VirtiofsSocket);
            }

            throw;
        }
    }

    public async Task<IVmInstance> AttachAsync(VmLaunchSpec spec, IReadOnlyDictionary<string, string> recoveryData, CancellationToken cancellationToken)
    {
        var settings = VmSettings.Parse(spec.Extra);
        var layout = new VmLayout(spec.StateDirectory);
        if (recoveryData.TryGetValue(RecoveryKeys.Dialect, out var dialect) && !dialect.Equals(Name, StringComparison.OrdinalIgnoreCase))
        {
            throw IsolaException.FailedPrecondition($"VM {spec.Id} was launched by VMM '{dialect}', not '{Name}'");
        }

        var vmm = ProcessIdentity.Parse(recoveryData.GetValueOrDefault(RecoveryKeys.Vmm))
                  ?? throw IsolaException.NotFound($"VM {spec.Id}: no VMM process in its recovery data");
        if (!vmm.IsAlive())
        {
            throw IsolaException.NotFound($"VM {spec.Id}: VMM pid {vmm.Pid} is gone");
        }

        var devices = recoveryData.TryGetValue(RecoveryKeys.Devices, out var json)
            ? JsonSerializer.Deserialize<List<PluggedDevice>>(json) ?? []
            : [];
        var virtiofsd = ProcessIdentity.Parse(recoveryData.GetValueOrDefault(RecoveryKeys.Virtiofsd));
        var logger = _loggers.CreateLogger("Isola.Vmm." + Name);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(spec.StartTimeout);
        QmpClient qmp;
        try
        {
            qmp = await QmpClient.ConnectAsync(recoveryData.GetValueOrDefault(RecoveryKeys.Qmp, layout.QmpSocket),
                new QmpClientOptions { CommandTimeout = settings.QmpTimeout }, logger, deadline.Token).ConfigureAwait(false);
        }
        catch (IsolaException e) when (e.Code == IsolaErrorCode.Unavailable && !vmm.IsAlive())
        {
            throw new IsolaException(IsolaErrorCode.NotFound, $"VM {spec.Id}: VMM pid {vmm.Pid} exited while re-attaching", e);
        }
        logger.LogInformation("VM {Id}: re-attached to {Vmm} pid {Pid} with {Count} plugged device(s)", spec.Id, Name, vmm.Pid, devices.Count);
        return new QmpVmInstance(spec.Id.Value, Name, layout, vmm, virtiofsd is { } v && v.IsAlive() ? v : null, qmp,
            new SlotAllocator(Slots(spec, settings), devices), settings.UnplugTimeout, logger);
    }

    /// <summary>The VMM creates its sockets with the process umask; only the owner (root) may drive the VM.</summary>
    private static void RestrictSockets(VmLayout layout)
    {
        foreach (var socket in new[] { layout.QmpSocket, layout.AgentSocket, layout.VirtiofsSocket })
        {
            if (File.Exists(socket))
            {
                File.SetUnixFileMode(socket, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }
        }
    }

    private static void Validate(VmLaunchSpec spec, VmSettings settings, VmLayout layout)
    {
        RequireFile(spec.Id, "kernel", spec.Kernel);
        if (spec.Initrd is not null)
        {
            RequireFile(spec.Id, "initrd", spec.Initrd);
        }

        if (spec.Image is not null)
        {
            RequireFile(spec.Id, "image", spec.Image);
        }

        if (spec.SharedDirectory is not null && !Directory.Exists(spec.SharedDirectory))
        {
            throw IsolaException.NotFound($"VM {spec.Id}: shared directory '{spec.SharedDirectory}' does not exist");
        }

        if (spec.Vcpus < 1 || spec.MemoryMiB < 64)
        {
            throw IsolaException.InvalidArgument($"VM {spec.Id}: needs at least 1 vCPU and 64 MiB (got {spec.Vcpus} and {spec.MemoryMiB})");
        }

        if (settings.AgentChannel == AgentChannel.Vsock && spec.VsockCid is null)
        {
            throw IsolaException.InvalidArgument($"VM {spec.Id}: the vsock agent channel needs a guest CID");
        }

        layout.ValidateSocketPaths(spec.Id);
    }

    private static void RequireFile(SandboxId id, string what, string path)
    {
        if (!File.Exists(path))
        {
            throw IsolaException.NotFound($"VM {id}: {what} '{path}' does not exist");
        }
    }
}
