namespace Isola.Controllers;

/// <summary>What Start reports.</summary>
/// <param name="Pid">The sandbox's main process (pause or VMM).</param>
/// <param name="CreatedAt">When the sandbox started.</param>
/// <param name="TaskAddress">Where its Task API is served, for example "ttrpc+unix:///path" or "ttrpc+vsock://3:1024".</param>
/// <param name="TaskApiVersion">The Task API version served there: 2 (containerd.task.v2) or 3 (containerd.task.v3).</param>
public sealed record ControllerStartResult(uint Pid, DateTimeOffset CreatedAt, string TaskAddress, uint TaskApiVersion)
{
    /// <summary>Labels the controller reports (Kuasar: "selinux_label").</summary>
    public IReadOnlyDictionary<string, string> Labels { get; init; } = new Dictionary<string, string>();

    /// <summary>Where the sandbox's task service finds container bundles when it does not see the host's files (a VM
    /// guest's view of its shared directory, for example "/run/kuasar/state"); null when bundles are host
    /// directories. A task client outside the host (an engine behind <c>isola serve</c>) stages its containers with
    /// <see cref="ISandbox.PrepareAsync"/> and names their bundles under this root.</summary>
    public string? GuestBundleRoot { get; init; }
}
