namespace Isola.Plugins.StratoVirt.Vmm;

/// <summary>Keys of <see cref="Isola.Vmm.IVmInstance.RecoveryData"/>, saved by the controller in the sandbox record.</summary>
internal static class RecoveryKeys
{
    /// <summary>Which VMM dialect launched the VM.</summary>
    public const string Dialect = "vmm.dialect";

    /// <summary>The VMM process as pid@starttime.</summary>
    public const string Vmm = "vmm.process";

    /// <summary>The QMP socket path.</summary>
    public const string Qmp = "vmm.qmp";

    /// <summary>The plugged devices (JSON array of PluggedDevice), i.e. the slot bookkeeping.</summary>
    public const string Devices = "vmm.devices";

    /// <summary>The virtiofs daemon as pid@starttime.</summary>
    public const string Virtiofsd = "vmm.virtiofsd";
}
