namespace Isola.Ttrpc.Server;

/// <summary>What a server handler knows about the call it serves.</summary>
public sealed class TtrpcCallContext
{
    internal TtrpcCallContext(string service, string method, IReadOnlyList<KeyValuePair<string, string>> metadata,
        DateTimeOffset? deadline, CancellationToken cancellationToken)
    {
        Service = service;
        Method = method;
        Metadata = metadata;
        Deadline = deadline;
        CancellationToken = cancellationToken;
    }

    /// <summary>The fully qualified service name.</summary>
    public string Service { get; }

    /// <summary>The method name.</summary>
    public string Method { get; }

    /// <summary>The request's metadata, in order; keys may repeat.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Metadata { get; }

    /// <summary>When the client gives up (from <c>timeout_nano</c>); null when it sent none.</summary>
    public DateTimeOffset? Deadline { get; }

    /// <summary>Cancelled at the deadline or when the connection closes.</summary>
    public CancellationToken CancellationToken { get; }

    /// <summary>The first value of metadata key <paramref name="key"/>, or null.</summary>
    public string? GetMetadata(string key) =>
        Metadata.FirstOrDefault(kv => string.Equals(kv.Key, key, StringComparison.Ordinal)).Value;
}
