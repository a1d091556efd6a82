namespace Isola.Ttrpc.Client;

/// <summary>Per-call settings.</summary>
public sealed record TtrpcCallOptions
{
    /// <summary>The call's deadline, sent to the server as <c>timeout_nano</c> and enforced locally
    /// (<see cref="TtrpcStatusCode.DeadlineExceeded"/>). Null: the client's default; <see cref="System.Threading.Timeout.InfiniteTimeSpan"/>: none.</summary>
    public TimeSpan? Timeout { get; init; }

    /// <summary>Metadata sent with this call in addition to the client's own.</summary>
    public IReadOnlyDictionary<string, string>? Metadata { get; init; }
}

/// <summary>Settings of one client connection.</summary>
public sealed record TtrpcClientOptions
{
    /// <summary>Metadata sent with every call, for example <c>containerd-namespace-ttrpc</c>.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; init; } = new Dictionary<string, string>();

    /// <summary>A deadline applied to calls that give none themselves; null for none.</summary>
    public TimeSpan? DefaultTimeout { get; init; }

    /// <summary>The metadata key containerd uses for its namespace on ttrpc.</summary>
    public const string NamespaceKey = "containerd-namespace-ttrpc";
}
