using Isola.Images;
using Microsoft.Extensions.Logging;

namespace Isola.Hosting.Containers;

/// <summary>
/// Containers run from images: the image found in the store (pulled when missing), its layers mounted as the
/// container's rootfs in <c>image/</c> of the container's directory and leased to the container, its defaults applied;
/// and all of it undone when the container goes. The store opens on first use, so a host that never runs an image
/// never touches it.
/// </summary>
internal sealed class ContainerImages(Lazy<IImageStore> store, ILogger logger)
{
    public IImageStore Store => store.Value;

    public static string Holder(SandboxId sandboxId, ContainerId containerId) => $"container:{sandboxId}/{containerId}";

    public static string MountDirectory(string containerDirectory) => Path.Combine(containerDirectory, "image");

    /// <summary>The spec with the image's rootfs and defaults; a spec without an image is returned as it is.</summary>
    public async Task<ContainerSpec> PrepareAsync(SandboxId sandboxId, ContainerId id, ContainerSpec spec, string containerDirectory, CancellationToken cancellationToken)
    {
        if (spec.Image is not { } reference)
        {
            return spec;
        }

        var image = await store.Value.FindAsync(reference, cancellationToken).ConfigureAwait(false)
            ?? await store.Value.PullAsync(reference, null, cancellationToken).ConfigureAwait(false);
        var holder = Holder(sandboxId, id);
        var rootfs = await store.Value.MountRootfsAsync(image, MountDirectory(containerDirectory), holder, cancellationToken).ConfigureAwait(false);
        try
        {
            return ImageDefaults.Apply(spec, image, rootfs, id) with { Image = image.Reference };
        }
        catch
        {
            await store.Value.UnmountRootfsAsync(MountDirectory(containerDirectory), holder, CancellationToken.None).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Unmounts the container's image rootfs and ends its lease. Best effort: a failure is logged, and
    /// <see cref="ReconcileAsync"/> ends any lease left behind.</summary>
    public async Task ReleaseAsync(SandboxId sandboxId, ContainerId id, string containerDirectory)
    {
        try
        {
            await store.Value.UnmountRootfsAsync(MountDirectory(containerDirectory), Holder(sandboxId, id), CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IsolaException or IOException)
        {
            logger.LogWarning("container '{Id}' in sandbox '{Sandbox}': releasing its image rootfs failed: {Error}", id, sandboxId, e.Message);
        }
    }

    /// <summary>Ends the leases of containers that no longer exist (a sandbox removed while its host was down, a crash
    /// between a container's removal and its release).</summary>
    public async Task ReconcileAsync(Func<string, bool> holderExists, CancellationToken cancellationToken)
    {
        if (!store.IsValueCreated && !Directory.Exists(StoreRootHint))
        {
            return;
        }

        foreach (var holder in await store.Value.HoldersAsync(cancellationToken).ConfigureAwait(false))
        {
            if (holder.StartsWith("container:", StringComparison.Ordinal) && !holderExists(holder))
            {
                logger.LogInformation("image lease of {Holder} released: the container is gone", holder);
                await store.Value.ReleaseAsync(holder, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Where the store would be, to skip reconciling a store that was never created.</summary>
    public string StoreRootHint { get; init; } = "";
}
