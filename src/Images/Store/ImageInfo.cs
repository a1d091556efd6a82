using Isola.Images.Content;

namespace Isola.Images.Store;

/// <summary>An image in the store: what <c>isola image ls</c> and <c>inspect</c> show, and what a container needs to
/// run from it.</summary>
public sealed record ImageInfo
{
    /// <summary>The normalised reference the image is stored under (<c>docker.io/library/busybox:latest</c>).</summary>
    public required string Reference { get; init; }

    /// <summary>The image id: the digest of its config, as the ecosystem defines it.</summary>
    public required Digest Id { get; init; }

    /// <summary>The digest of the (platform) manifest the image came from.</summary>
    public required Digest ManifestDigest { get; init; }

    /// <summary>The layers, lowest first.</summary>
    public required IReadOnlyList<ImageLayer> Layers { get; init; }

    /// <summary>The compressed size of config and layers, as pulled.</summary>
    public long Size { get; init; }

    /// <summary>When the image was stored.</summary>
    public DateTimeOffset Stored { get; init; }

    /// <summary>The defaults a container of this image runs with.</summary>
    public ImageRunDefaults Defaults { get; init; } = new();
}

/// <summary>One layer: the blob as transported and the digest of its uncompressed tar (the diff id), which names its
/// unpacked snapshot.</summary>
public sealed record ImageLayer(Digest Digest, string MediaType, long Size, Digest DiffId);

/// <summary>The image config's run settings; a container spec overrides each.</summary>
public sealed record ImageRunDefaults
{
    /// <summary>The entrypoint (may be empty).</summary>
    public IReadOnlyList<string> Entrypoint { get; init; } = [];

    /// <summary>The command (arguments to the entrypoint, or the program when there is none).</summary>
    public IReadOnlyList<string> Cmd { get; init; } = [];

    /// <summary><c>NAME=value</c> pairs.</summary>
    public IReadOnlyList<string> Env { get; init; } = [];

    /// <summary>The working directory; empty for <c>/</c>.</summary>
    public string WorkingDir { get; init; } = "";

    /// <summary>The user (<c>uid</c>, <c>uid:gid</c> or a name); empty for root.</summary>
    public string User { get; init; } = "";
}
