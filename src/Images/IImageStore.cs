using Isola.Images.Store;

namespace Isola.Images;

/// <summary>
/// OCI images on this machine: pulled from registries or imported from archives, stored by content, each layer
/// unpacked once for overlayfs. Open one with <see cref="ImageStores.Open"/>; every method is safe to call from
/// several processes sharing the store's directory.
/// </summary>
public interface IImageStore
{
    /// <summary>The store's directory.</summary>
    string Root { get; }

    /// <summary>Pulls <paramref name="reference"/> (for linux/amd64 when it names an index) and unpacks its layers.</summary>
    Task<ImageInfo> PullAsync(string reference, IProgress<PullProgress>? progress = null, CancellationToken cancellationToken = default);

    /// <summary>Imports every image an OCI archive (<c>oci-layout</c> + <c>index.json</c>) or a <c>docker save</c>
    /// archive holds. An image the archive names only by a tag is stored as <paramref name="name"/>:tag; without
    /// <paramref name="name"/> that is an error.</summary>
    Task<IReadOnlyList<ImageInfo>> ImportAsync(string archive, string? name = null, CancellationToken cancellationToken = default);

    /// <summary>Every stored image, by reference.</summary>
    Task<IReadOnlyList<ImageInfo>> ListAsync(CancellationToken cancellationToken = default);

    /// <summary>The image a reference (<c>busybox</c>, <c>localhost:5000/app@sha256:…</c>) or an id (whole, or 12+ hex
    /// digits) names; null when it is not stored.</summary>
    Task<ImageInfo?> FindAsync(string referenceOrId, CancellationToken cancellationToken = default);

    /// <summary>As <see cref="FindAsync"/>, but a missing image is a NotFound error naming it.</summary>
    Task<ImageInfo> GetAsync(string referenceOrId, CancellationToken cancellationToken = default);

    /// <summary>Removes a reference (or every reference of an id) and collects what no image or lease needs any more;
    /// returns the references removed.</summary>
    Task<IReadOnlyList<string>> RemoveAsync(string referenceOrId, CancellationToken cancellationToken = default);

    /// <summary>The unpacked layer directories of <paramref name="image"/>, lowest first (overlayfs takes them
    /// highest first in <c>lowerdir</c>).</summary>
    IReadOnlyList<string> LayerDirectories(ImageInfo image);

    /// <summary>Keeps <paramref name="image"/>'s layers while <paramref name="holder"/> (a container id) uses them,
    /// even if the image is removed.</summary>
    Task LeaseAsync(string holder, ImageInfo image, CancellationToken cancellationToken = default);

    /// <summary>The holders of live leases (<see cref="LeaseAsync"/>), for an owner to end those it no longer has.</summary>
    Task<IReadOnlyList<string>> HoldersAsync(CancellationToken cancellationToken = default);

    /// <summary>Ends <paramref name="holder"/>'s lease and collects what only it kept.</summary>
    Task ReleaseAsync(string holder, CancellationToken cancellationToken = default);

    /// <summary>Mounts a container's root filesystem from <paramref name="image"/> in <paramref name="directory"/>
    /// (<c>rootfs/</c>, an overlay of the image's layers under the container's own <c>upper/</c> and <c>work/</c>) and
    /// leases the layers to <paramref name="holder"/>; returns the rootfs path. Calling it again is harmless.</summary>
    Task<string> MountRootfsAsync(ImageInfo image, string directory, string holder, CancellationToken cancellationToken = default);

    /// <summary>Undoes <see cref="MountRootfsAsync"/>: unmounts, deletes the container's layer, ends the lease.
    /// Nothing to undo is not an error.</summary>
    Task UnmountRootfsAsync(string directory, string holder, CancellationToken cancellationToken = default);

    /// <summary>Deletes blobs and layers no image or lease needs, and what crashed writers left.</summary>
    Task CollectGarbageAsync(CancellationToken cancellationToken = default);
}

/// <summary>Progress of one blob during a pull.</summary>
/// <param name="Digest">The blob.</param>
/// <param name="What">"config" or "layer".</param>
/// <param name="Bytes">Bytes received so far.</param>
/// <param name="Total">The blob's size.</param>
/// <param name="Done">Whether it is stored (fetched now, or already there).</param>
public sealed record PullProgress(string Digest, string What, long Bytes, long Total, bool Done);

/// <summary>Opens image stores.</summary>
public static class ImageStores
{
    /// <summary>Opens (creating it when missing) the image store in <paramref name="root"/>.</summary>
    /// <exception cref="PlatformNotSupportedException">Not on Linux: layers unpack into overlayfs form (device nodes,
    /// extended attributes, owners).</exception>
    public static IImageStore Open(string root, RegistryOptions? registries = null, HttpMessageHandler? handler = null) =>
        OperatingSystem.IsLinux()
            ? new ImageStore(root, registries ?? new RegistryOptions(), handler)
            : throw new PlatformNotSupportedException("the image store needs Linux (overlayfs layers)");
}
