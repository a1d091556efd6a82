namespace Isola.Controllers;

/// <summary>What Status reports.</summary>
public sealed record ControllerStatus
{
    /// <summary>True while the sandbox runs (the Sandbox API's "SANDBOX_READY").</summary>
    public required bool Ready { get; init; }

    /// <summary>The main process, 0 when it is not running.</summary>
    public uint Pid { get; init; }

    /// <summary>Where the Task API is served; empty when unknown.</summary>
    public string TaskAddress { get; init; } = "";

    /// <summary>The Task API version.</summary>
    public uint TaskApiVersion { get; init; }

    /// <summary>When the sandbox started.</summary>
    public DateTimeOffset? CreatedAt { get; init; }

    /// <summary>When it exited, if it has.</summary>
    public DateTimeOffset? ExitedAt { get; init; }

    /// <summary>Extra details (verbose status).</summary>
    public IReadOnlyDictionary<string, string> Info { get; init; } = new Dictionary<string, string>();
}
