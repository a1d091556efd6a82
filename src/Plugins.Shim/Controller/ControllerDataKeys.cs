namespace Isola.Plugins.Shim.Controller;

/// <summary>What the shim controller keeps in <see cref="Isola.Controllers.SandboxContext.ControllerData"/> so that a
/// later host process can find the shim, the pause and everything to clean up.</summary>
internal static class ControllerDataKeys
{
    public const string Bundle = "shim.bundle";
    public const string Address = "shim.address";
    public const string Version = "shim.version";
    public const string Namespace = "shim.namespace";
    public const string ShimBinary = "shim.binary";
    public const string ContainerdAddress = "shim.containerd-address";
    public const string Runtime = "shim.runtime";
    public const string CgroupsPath = "shim.cgroups-path";
    public const string ShimPid = "shim.pid";

    /// <summary>Present only for a pod in a shared shim (ShimGrouping Runtime): the group's id, and its directory.</summary>
    public const string Group = "shim.group";
    public const string GroupDirectory = "shim.group-directory";
    public const string PausePid = "pause.pid";

    /// <summary>The pause's start time in clock ticks after boot (/proc/PID/stat field 22): with the pid, it tells the
    /// pause from a later process that reused its pid.</summary>
    public const string PauseStartTime = "pause.start-time";
    public const string StartedAt = "pause.started-at";
}
