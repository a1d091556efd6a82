namespace Isola;

/// <summary>A snapshot of a sandbox as the host knows it (its persisted record).</summary>
public sealed record SandboxInfo
{
    /// <summary>The sandbox id.</summary>
    public required SandboxId Id { get; init; }

    /// <summary>The sandbox's unique name.</summary>
    public required string Name { get; init; }

    /// <summary>The runtime handler that runs it.</summary>
    public required string Runtime { get; init; }

    /// <summary>The controller plugin behind the runtime handler.</summary>
    public required string Controller { get; init; }

    /// <summary>The current state.</summary>
    public required SandboxState State { get; init; }

    /// <summary>The spec it was created from.</summary>
    public required SandboxSpec Spec { get; init; }

    /// <summary>The sandbox's main process (pause or VMM), 0 when none.</summary>
    public uint Pid { get; init; }

    /// <summary>Where its Task API is served, for example "ttrpc+unix:///run/isola/s/abc.sock"; empty before Start.</summary>
    public string TaskAddress { get; init; } = "";

    /// <summary>The Task API version at <see cref="TaskAddress"/> (2 or 3).</summary>
    public uint TaskApiVersion { get; init; }

    /// <summary>Where the task service finds container bundles when it does not see the host's files (see
    /// <see cref="Controllers.ControllerStartResult.GuestBundleRoot"/>); null when bundles are host directories.</summary>
    public string? GuestBundleRoot { get; init; }

    /// <summary>When the record was created.</summary>
    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>When the sandbox became ready, if it did.</summary>
    public DateTimeOffset? StartedAt { get; init; }

    /// <summary>How it exited, once it has.</summary>
    public ExitStatus? Exit { get; init; }

    /// <summary>Why the controller did not confirm <see cref="State"/> just now: it could not be reached (the state
    /// is then <see cref="SandboxState.Pending"/>), or it did not answer in time (the state shown is then the last one
    /// recorded, not confirmed). Null when it answered, or when nothing was asked.</summary>
    public string? StatusError { get; init; }

    /// <summary>The containers it holds.</summary>
    public IReadOnlyList<ContainerInfo> Containers { get; init; } = [];

    /// <summary>The pod network it is on (addresses, published ports); null when it is not on one. Its
    /// <see cref="Spec"/>'s Network is then the namespace the controller was given.</summary>
    public SandboxNetwork? Network { get; init; }
}
