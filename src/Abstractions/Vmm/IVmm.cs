namespace Isola.Vmm;

/// <summary>
/// A virtual machine monitor ("stratovirt", "qemu"): builds its command line, launches it, and controls the running
/// VM through its management protocol (QMP). The <c>vm</c> controller selects one by name from its options.
/// </summary>
public interface IVmm
{
    /// <summary>The name configuration selects (case-insensitive, unique across loaded plugins).</summary>
    string Name { get; }

    /// <summary>This VMM, logging through <paramref name="loggerFactory"/>: plugins register VMMs before the host's
    /// logger factory exists, and a controller that uses one calls this with the one it was given. The default
    /// returns the VMM unchanged.</summary>
    IVmm WithLoggerFactory(Microsoft.Extensions.Logging.ILoggerFactory loggerFactory) => this;

    /// <summary>The command line <see cref="LaunchAsync"/> would run, for inspection and golden tests.</summary>
    IReadOnlyList<string> BuildCommandLine(VmLaunchSpec spec);

    /// <summary>Starts the VMM, waits until its management socket answers (within
    /// <see cref="VmLaunchSpec.StartTimeout"/>) and returns a handle. On failure nothing is left running.</summary>
    Task<IVmInstance> LaunchAsync(VmLaunchSpec spec, CancellationToken cancellationToken);

    /// <summary>Re-attaches to a VM launched by an earlier host process, from the data it reported in
    /// <see cref="IVmInstance.RecoveryData"/>. Throws <see cref="IsolaErrorCode.NotFound"/> when the VM is gone.</summary>
    Task<IVmInstance> AttachAsync(VmLaunchSpec spec, IReadOnlyDictionary<string, string> recoveryData, CancellationToken cancellationToken);
}
