namespace Isola.Server;

/// <summary>How <c>isola serve</c> listens and whom it serves.</summary>
public sealed record SandboxApiServerOptions
{
    /// <summary>The Unix socket to listen on (created with mode 0600; a stale socket file is replaced).</summary>
    public required string SocketPath { get; init; }

    /// <summary>The runtime handler used when a request's <c>sandboxer</c> field is empty; null uses the host's default.</summary>
    public string? DefaultRuntime { get; init; }

    /// <summary>Peer uids allowed to connect (checked with SO_PEERCRED); empty allows only the server's own uid.</summary>
    public IReadOnlyCollection<uint> AllowedUids { get; init; } = [];

    /// <summary>Where Update(extensions.tasks) writes container bundles, one directory per sandbox.</summary>
    public string BundleRoot { get; init; } = "/run/isola/sandbox-api";
}
