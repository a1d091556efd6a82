using Isola.Images.Content;
using Isola.Images.Oci;
using Isola.Images.Unpack;

namespace Isola.Images.Store;

/// <summary>Turning stored blobs into an image: the manifest's config and layers checked, each layer unpacked once,
/// then the records written under the lock.</summary>
internal sealed partial class ImageStore
{
    /// <summary>A pull or import in progress: its blobs are leased (under the lock) before they are written, so a
    /// concurrent collection cannot delete them between write and commit.</summary>
    internal sealed class Ingestion(ImageStore store) : IAsyncDisposable
    {
        private readonly string _name = $"pull-{Environment.ProcessId}-{Guid.NewGuid():N}";
        private readonly List<Digest> _blobs = [];

        public async Task AddAsync(IEnumerable<Digest> digests, CancellationToken cancellationToken)
        {
            using (await StoreLock.AcquireAsync(store.LockPath, cancellationToken).ConfigureAwait(false))
            {
                _blobs.AddRange(digests);
                store._leases.Write(_name, new Leases.Lease(Environment.ProcessId, [.. _blobs], []));
            }
        }

        public ValueTask DisposeAsync()
        {
            store._leases.Delete(_name);
            return ValueTask.CompletedTask;
        }
    }

    internal BlobStore Blobs => _blobs;

    internal Ingestion BeginIngestion() => new(this);

    /// <summary>Makes the stored manifest <paramref name="manifestDigest"/> an image under each of
    /// <paramref name="references"/>; <paramref name="origin"/> names the source in errors.</summary>
    internal async Task<ImageInfo> CommitAsync(Digest manifestDigest, IReadOnlyList<string> references, string origin, CancellationToken cancellationToken)
    {
        var manifest = OciJson.Parse<ImageManifest>(await _blobs.ReadAllAsync(manifestDigest, cancellationToken).ConfigureAwait(false), $"manifest {manifestDigest} from {origin}");
        var config = OciJson.Parse<ImageConfigFile>(await _blobs.ReadAllAsync(manifest.Config.Digest, cancellationToken).ConfigureAwait(false), $"image config {manifest.Config.Digest} from {origin}");
        var diffIds = config.Rootfs?.DiffIds ?? [];
        if (diffIds.Count != manifest.Layers.Count)
        {
            throw IsolaException.InvalidArgument($"image from {origin}: the manifest has {manifest.Layers.Count} layers, its config lists {diffIds.Count} diff ids");
        }

        if (config.Os is { Length: > 0 } os && os != "linux")
        {
            throw IsolaException.InvalidArgument($"image from {origin} is for {os}, not linux");
        }

        var layers = new List<ImageLayer>();
        for (var i = 0; i < manifest.Layers.Count; i++)
        {
            var layer = manifest.Layers[i];
            await UnpackAsync(layer, diffIds[i], origin, cancellationToken).ConfigureAwait(false);
            layers.Add(new ImageLayer(layer.Digest, layer.MediaType, layer.Size, diffIds[i]));
        }

        var run = config.Config;
        var image = new ImageInfo
        {
            Reference = "",
            Id = manifest.Config.Digest,
            ManifestDigest = manifestDigest,
            Layers = layers,
            Size = manifest.Config.Size + manifest.Layers.Sum(l => l.Size),
            Stored = DateTimeOffset.UtcNow,
            Defaults = new ImageRunDefaults
            {
                Entrypoint = run?.Entrypoint ?? [],
                Cmd = run?.Cmd ?? [],
                Env = run?.Env ?? [],
                WorkingDir = run?.WorkingDir ?? "",
                User = run?.User ?? "",
            },
        };

        using (await StoreLock.AcquireAsync(LockPath, cancellationToken).ConfigureAwait(false))
        {
            foreach (var reference in references)
            {
                _records.Write(image with { Reference = reference });
            }

            // A tag that moved leaves the old image's blobs unreferenced.
            CollectLocked();
        }

        return image with { Reference = references.Count > 0 ? references[0] : "" };
    }

    private async Task UnpackAsync(Descriptor layer, Digest diffId, string origin, CancellationToken cancellationToken)
    {
        var target = Path.Combine(_snapshots, diffId.Hex);
        if (Directory.Exists(target))
        {
            return;
        }

        var temp = Path.Combine(_snapshots, $".tmp-{Environment.ProcessId}-{Guid.NewGuid():N}");
        try
        {
            Digest actual;
            await using (var blob = _blobs.OpenRead(layer.Digest))
            {
                actual = await LayerUnpacker.UnpackAsync(blob, MediaTypes.Compression(layer.MediaType), temp, $"{layer.Digest} from {origin}", cancellationToken).ConfigureAwait(false);
            }

            if (actual != diffId)
            {
                throw IsolaException.FailedPrecondition($"layer {layer.Digest} from {origin}: its uncompressed content hashes to {actual}, the image config says {diffId}");
            }

            try
            {
                Directory.Move(temp, target);
            }
            catch (IOException) when (Directory.Exists(target))
            {
                // Another process unpacked the same layer first; its copy is identical.
            }
        }
        catch (IOException e) when (e.HResult == 28 || e.Message.Contains("No space left", StringComparison.Ordinal))
        {
            throw new IsolaException(IsolaErrorCode.ResourceExhausted, $"layer {layer.Digest} from {origin}: no space left on the device holding {_snapshots}; nothing stored", e);
        }
        finally
        {
            if (Directory.Exists(temp))
            {
                Directory.Delete(temp, recursive: true);
            }
        }
    }
}
