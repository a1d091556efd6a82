using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using Isola.Controllers;
using Isola.Plugins.StratoVirt.Vmm;
using Isola.Plugins.StratoVirt.Vmm.Vsock;
using Isola.Vmm;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;

namespace Isola.Plugins.StratoVirt.Controller;

/// <summary>
/// The <c>vm</c> controller: one VM per sandbox, driven directly through a VMM plugin (no sandboxer process).
/// Everything needed to pick a VM up again after a host restart (VMM process, QMP socket, plugged devices and their
/// slots, vsock CID, prepared containers) goes into <see cref="SandboxContext.ControllerData"/>.
/// </summary>
internal sealed partial class VmController : ISandboxController, IReportsRuntimeDetails, IAsyncDisposable
{
    private const string CidKey = "vm.cid";
    private const string ContainersKey = "vm.containers";
    private const string NextDeviceKey = "vm.nextdevice";

    private readonly VmControllerOptions _options;
    private readonly IVmm _vmm;
    private readonly ILogger _logger;
    private readonly VmLeases _vms;
    private readonly ConcurrentDictionary<SandboxId, SafeFileHandle> _cidHandles = new();

    public VmController(VmControllerOptions options, IVmm vmm, ILogger logger)
    {
        _options = options;
        _vmm = vmm;
        _logger = logger;
        _vms = new VmLeases(AttachAsync);
    }

    /// <summary>Shown by <c>isola runtimes ls</c>: which VMM and guest this handler runs, and how the agent is reached.</summary>
    public IReadOnlyDictionary<string, string> Details => new Dictionary<string, string>
    {
        ["vmm"] = $"{_vmm.Name} ({_options.Binary})",
        ["machine"] = _options.MachineType,
        ["size"] = $"{_options.Vcpus} vCPU, {_options.MemoryMiB} MiB",
        ["agent"] = Channel() == AgentChannel.Vsock ? $"vsock port {_options.AgentPort}" : "virtio-serial (Unix socket)",
        ["readiness"] = _options.Readiness.ToString(),
    };

    public async Task<ControllerStartResult> StartAsync(SandboxContext sandbox, CancellationToken cancellationToken)
    {
        await using (var running = await _vms.TryAcquireRunningAsync(sandbox, cancellationToken).ConfigureAwait(false))
        {
            if (running is not null)
            {
                throw IsolaException.FailedPrecondition($"sandbox {sandbox.Id}: its VM already runs (pid {running.Vm.Pid})");
            }
        }

        var channel = Channel();
        uint? cid = null;
        SafeFileHandle? cidHandle = null;
        if (channel == AgentChannel.Vsock)
        {
            // Re-bind the saved CID when the descriptor from Create is gone (a host restart in between).
            if (!_cidHandles.TryRemove(sandbox.Id, out cidHandle))
            {
                uint? saved = uint.TryParse(Data(sandbox, CidKey), CultureInfo.InvariantCulture, out var c) ? c : null;
                (var fresh, cidHandle) = VsockCidAllocator.Allocate(sandbox.Id, saved);
                sandbox.ControllerData[CidKey] = fresh.ToString(CultureInfo.InvariantCulture);
            }

            cid = uint.Parse(sandbox.ControllerData[CidKey], CultureInfo.InvariantCulture);
        }

        var spec = LaunchSpec(sandbox, channel, cid, cidHandle);
        IVmInstance vm;
        try
        {
            vm = await _vmm.LaunchAsync(spec, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            // The VMM inherited its copy of the vhost-vsock descriptor; ours must not keep the CID alive after it exits.
            cidHandle?.Dispose();
        }

        await using var lease = _vms.Adopt(sandbox.Id, vm);
        SaveRecovery(sandbox, vm);
        // The VMM runs from here on, booting for seconds: a host that dies meanwhile must find it in the record.
        sandbox.Checkpoint();
        var address = channel == AgentChannel.Vsock
            ? $"{_options.VsockAddressScheme}://{cid}:{_options.AgentPort}"
            : "ttrpc+unix://" + new VmLayout(sandbox.StateDirectory).AgentSocket;
        try
        {
            await ReadinessProbe.WaitAsync(sandbox.Id, _options.Readiness, vm, address, spec.ConsoleLog!, _options.ReadinessMarker,
                _options.ReadyTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            // Nothing half-started is left behind, whatever the host does next.
            await vm.StopAsync(TimeSpan.FromSeconds(2), CancellationToken.None).ConfigureAwait(false);
            throw;
        }

        _logger.LogInformation("sandbox {Id}: VM ready, task address {Address}", sandbox.Id, address);
        return new ControllerStartResult((uint)vm.Pid, DateTimeOffset.UtcNow, address, _options.TaskApiVersion)
        {
            GuestBundleRoot = ContainerRootfs.GuestSharedRoot,
        };
    }

    public Task<PlatformInfo> PlatformAsync(SandboxContext sandbox, CancellationToken cancellationToken) =>
        Task.FromResult(new PlatformInfo("linux", System.Runtime.InteropServices.RuntimeInformation.OSArchitecture switch
        {
            System.Runtime.InteropServices.Architecture.Arm64 => "arm64",
            _ => "amd64",
        }));

    public Task UpdateResourcesAsync(SandboxContext sandbox, UpdateResourcesRequest request, CancellationToken cancellationToken)
    {
        if (request.ContainerId is not null)
        {
            // Container limits are applied inside the guest by its agent (Task.Update); the VM itself does not change.
            return Task.CompletedTask;
        }

        var r = request.Resources;
        if (r.MemoryLimitBytes is { } mem && mem > (long)_options.MemoryMiB * 1024 * 1024)
        {
            throw IsolaException.FailedPrecondition($"sandbox {sandbox.Id}: memory limit {mem} bytes exceeds the VM's {_options.MemoryMiB} MiB; growing a VM needs memory hot-plug, which this controller does not do");
        }

        if (r is { CpuQuota: > 0, CpuPeriod: > 0 } && (double)r.CpuQuota.Value / r.CpuPeriod.Value > _options.Vcpus)
        {
            throw IsolaException.FailedPrecondition($"sandbox {sandbox.Id}: CPU quota {r.CpuQuota}/{r.CpuPeriod} exceeds the VM's {_options.Vcpus} vCPU(s); CPU hot-plug is not done");
        }

        sandbox.ControllerData["vm.resources"] = JsonSerializer.Serialize(r);
        return Task.CompletedTask;
    }

    public async Task StopAsync(SandboxContext sandbox, TimeSpan timeout, CancellationToken cancellationToken)
    {
        await using var lease = await _vms.TryAcquireRunningAsync(sandbox, cancellationToken).ConfigureAwait(false);
        if (lease is not null)
        {
            await lease.Vm.StopAsync(timeout, cancellationToken).ConfigureAwait(false);
        }
    }

    public async Task<ExitStatus> WaitAsync(SandboxContext sandbox, CancellationToken cancellationToken)
    {
        // The lease keeps the QMP connection (and so the SHUTDOWN event that gives the exit code) for as long as the
        // Wait runs; a host shutting down cancels it, which lets the connection go for the next host process.
        await using var lease = await _vms.AcquireAsync(sandbox, cancellationToken).ConfigureAwait(false);
        return await lease.Vm.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>True while a Wait or an operation holds the sandbox's VM, so an exit now is observed with its SHUTDOWN
    /// event (a diagnostic for callers and tests that must not race the attach).</summary>
    internal bool IsAttached(SandboxId sandboxId) => _vms.IsHeld(sandboxId);

    public async Task<ControllerStatus> StatusAsync(SandboxContext sandbox, bool verbose, CancellationToken cancellationToken)
    {
        if (!Directory.Exists(sandbox.StateDirectory))
        {
            throw IsolaException.NotFound($"sandbox {sandbox.Id}: state directory {sandbox.StateDirectory} is gone");
        }

        await using var lease = await _vms.TryAcquireRunningAsync(sandbox, cancellationToken).ConfigureAwait(false);
        var vm = lease?.Vm;
        if (vm is null)
        {
            return new ControllerStatus { Ready = false, TaskAddress = sandbox.TaskAddress, TaskApiVersion = sandbox.TaskApiVersion };
        }

        var status = await vm.StatusAsync(cancellationToken).ConfigureAwait(false);
        var info = new Dictionary<string, string>
        {
            ["vmm"] = _vmm.Name,
            ["vmm.status"] = status.Status,
            ["qmp"] = vm.ManagementSocket,
            ["devices"] = vm.Devices.Count.ToString(CultureInfo.InvariantCulture),
        };
        if (verbose)
        {
            info["console"] = ConsoleLog(sandbox);
            info["plugged"] = JsonSerializer.Serialize(vm.Devices);
            if (status.Status != "shutdown")
            {
                foreach (var (key, value) in await vm.DetailsAsync(cancellationToken).ConfigureAwait(false))
                {
                    info[key] = value;
                }
            }
        }

        return new ControllerStatus
        {
            Ready = status.Status != "shutdown",
            Pid = status.Status == "shutdown" ? 0 : (uint)vm.Pid,
            TaskAddress = sandbox.TaskAddress,
            TaskApiVersion = sandbox.TaskApiVersion,
            Info = info,
        };
    }

    /// <summary>Drops QMP connections and exit watchers; the VMs keep running (the host is going away).</summary>
    public async ValueTask DisposeAsync()
    {
        await _vms.DisposeAsync().ConfigureAwait(false);

        foreach (var h in _cidHandles.Values)
        {
            h.Dispose();
        }

        _cidHandles.Clear();
    }
}
