using Isola.Images.Content;
using Isola.Images.Import;
using Isola.Images.Oci;
using Isola.Images.References;
using Isola.Images.Registry;

namespace Isola.Images.Store;

/// <summary>Pull and import: blobs in through the ingestion lease, then <see cref="CommitAsync"/>.</summary>
internal sealed partial class ImageStore
{
    private const int ParallelLayers = 3;
    private HttpClient? _http;

    public Task<IReadOnlyList<ImageInfo>> ImportAsync(string archive, string? name = null, CancellationToken cancellationToken = default) =>
        NothingHalfStoredAsync(() => ArchiveImporter.ImportAsync(this, archive, name, cancellationToken));

    public Task<ImageInfo> PullAsync(string reference, IProgress<PullProgress>? progress = null, CancellationToken cancellationToken = default) =>
        NothingHalfStoredAsync(() => PullCoreAsync(reference, progress, cancellationToken));

    /// <summary>A failed pull or import has dropped its lease by the time this runs: collecting then removes every
    /// blob and layer it stored that no image or other lease needs.</summary>
    private async Task<T> NothingHalfStoredAsync<T>(Func<Task<T>> ingest)
    {
        try
        {
            return await ingest().ConfigureAwait(false);
        }
        catch
        {
            await CollectGarbageAsync(CancellationToken.None).ConfigureAwait(false);
            throw;
        }
    }

    private async Task<ImageInfo> PullCoreAsync(string reference, IProgress<PullProgress>? progress, CancellationToken cancellationToken)
    {
        var image = ImageReference.Parse(reference);
        var client = new RegistryClient(Http, _registries);
        var origin = $"registry {image.Registry}";
        await using var ingestion = BeginIngestion();

        var (body, mediaType) = await client.GetManifestAsync(image, image.Digest?.ToString() ?? image.Tag!, cancellationToken).ConfigureAwait(false);
        var digest = Digest.Of(body);
        if (image.Digest is { } pinned && pinned != digest)
        {
            throw IsolaException.FailedPrecondition($"image {image}: the registry's manifest hashes to {digest}; nothing stored");
        }

        await ingestion.AddAsync([digest], cancellationToken).ConfigureAwait(false);
        await _blobs.WriteAsync(body, digest, origin, cancellationToken).ConfigureAwait(false);
        mediaType = OciJson.DeclaredMediaType(body) ?? mediaType;
        if (MediaTypes.IsIndex(mediaType))
        {
            var chosen = PlatformManifest.Choose(OciJson.Parse<ImageIndex>(body, $"image {image}: index"))
                ?? throw IsolaException.NotFound($"image {image} has no {PlatformManifest.Os}/{PlatformManifest.Architecture} variant");
            (body, _) = await client.GetManifestAsync(image, chosen.Digest.ToString(), cancellationToken).ConfigureAwait(false);
            digest = Digest.Of(body);
            if (digest != chosen.Digest)
            {
                throw IsolaException.FailedPrecondition($"image {image}: manifest {chosen.Digest} from the registry hashes to {digest}; nothing stored");
            }

            await ingestion.AddAsync([digest], cancellationToken).ConfigureAwait(false);
            await _blobs.WriteAsync(body, digest, origin, cancellationToken).ConfigureAwait(false);
        }
        else if (!MediaTypes.IsManifest(mediaType))
        {
            throw IsolaException.InvalidArgument($"image {image}: the registry returned '{mediaType}', neither a manifest nor an index");
        }

        var manifest = OciJson.Parse<ImageManifest>(body, $"image {image}: manifest {digest}");
        var blobs = manifest.Layers.Select(l => (l, "layer")).Prepend((manifest.Config, "config")).ToList();
        await ingestion.AddAsync(blobs.Select(b => b.Item1.Digest), cancellationToken).ConfigureAwait(false);
        await Parallel.ForEachAsync(blobs, new ParallelOptions { MaxDegreeOfParallelism = ParallelLayers, CancellationToken = cancellationToken }, async (blob, ct) =>
        {
            var (descriptor, what) = blob;
            if (!_blobs.Exists(descriptor.Digest))
            {
                using var response = await client.GetBlobAsync(image, descriptor.Digest, ct).ConfigureAwait(false);
                await using var content = await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
                await using var counted = new ProgressStream(content, n => progress?.Report(new PullProgress(descriptor.Digest.ToString(), what, n, descriptor.Size, false)));
                await _blobs.WriteAsync(counted, descriptor.Digest, descriptor.Size, $"{origin} ({image.Repository})", ct).ConfigureAwait(false);
            }

            progress?.Report(new PullProgress(descriptor.Digest.ToString(), what, descriptor.Size, descriptor.Size, true));
        }).ConfigureAwait(false);

        return await CommitAsync(digest, [image.ToString()], $"{origin} ({image})", cancellationToken).ConfigureAwait(false);
    }

    private HttpClient Http => LazyInitializer.EnsureInitialized(ref _http, () => _handler is null
        ? new HttpClient(new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(10), AutomaticDecompression = System.Net.DecompressionMethods.None }) { Timeout = TimeSpan.FromMinutes(30) }
        : new HttpClient(_handler, disposeHandler: false));
}
