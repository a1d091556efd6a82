namespace Isola.Vmm;

/// <summary>A running VM. Every operation is bounded by its token; a dead management socket fails pending
/// operations with <see cref="IsolaErrorCode.Unavailable"/>.</summary>
public interface IVmInstance : IAsyncDisposable
{
    /// <summary>The VMM's process id.</summary>
    int Pid { get; }

    /// <summary>The management (QMP) socket path.</summary>
    string ManagementSocket { get; }

    /// <summary>What a later host process needs to re-attach and to know the plugged devices (saved by the controller).</summary>
    IReadOnlyDictionary<string, string> RecoveryData { get; }

    /// <summary>The VM's run status ("running", "paused", "shutdown", ...).</summary>
    Task<VmStatus> StatusAsync(CancellationToken cancellationToken);

    /// <summary>Pauses the vCPUs.</summary>
    Task PauseAsync(CancellationToken cancellationToken);

    /// <summary>Resumes the vCPUs.</summary>
    Task ResumeAsync(CancellationToken cancellationToken);

    /// <summary>Hot-plugs a block device into a free slot and returns where it went.</summary>
    Task<PluggedDevice> HotplugBlockAsync(BlockDeviceSpec device, CancellationToken cancellationToken);

    /// <summary>Hot-plugs a network device.</summary>
    Task<PluggedDevice> HotplugNetAsync(NetDeviceSpec device, CancellationToken cancellationToken);

    /// <summary>Unplugs a device plugged earlier and frees its slot; waits for the guest's acknowledgement within the deadline.</summary>
    Task UnplugAsync(string deviceId, CancellationToken cancellationToken);

    /// <summary>The devices plugged now.</summary>
    IReadOnlyList<PluggedDevice> Devices { get; }

    /// <summary>Stops the VMM: a management "quit", then SIGKILL after <paramref name="grace"/>. Idempotent.</summary>
    Task StopAsync(TimeSpan grace, CancellationToken cancellationToken);

    /// <summary>VMM-specific facts for a verbose status (the host threads of the vCPUs, say). None by default, so a
    /// VMM built against contract 1.0 still loads.</summary>
    Task<IReadOnlyDictionary<string, string>> DetailsAsync(CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyDictionary<string, string>>(new Dictionary<string, string>());

    /// <summary>Blocks until the VMM process exits.</summary>
    Task<ExitStatus> WaitAsync(CancellationToken cancellationToken);
}
