using System.Formats.Tar;
using System.Text.Json;
using System.Text.Json.Serialization;
using Isola.Images.Content;
using Isola.Images.Oci;
using Isola.Images.References;
using Isola.Images.Store;

namespace Isola.Images.Import;

/// <summary>
/// Reads an OCI image archive (<c>oci-layout</c>, <c>index.json</c>, <c>blobs/sha256/…</c>) or a <c>docker save</c>
/// archive (<c>manifest.json</c> with RepoTags, config and layer files) in one pass: every file is stored as a blob
/// by its digest (a content-addressed name must match its content), then the images the index or manifest names are
/// committed.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
internal static class ArchiveImporter
{
    private const long MetadataLimit = 4 * 1024 * 1024;

    private sealed record DockerSaveEntry(
        [property: JsonPropertyName("Config")] string Config,
        [property: JsonPropertyName("RepoTags")] List<string>? RepoTags,
        [property: JsonPropertyName("Layers")] List<string> Layers);

    public static async Task<IReadOnlyList<ImageInfo>> ImportAsync(ImageStore store, string archive, string? name, CancellationToken cancellationToken)
    {
        if (!File.Exists(archive))
        {
            throw IsolaException.NotFound($"image archive {archive} does not exist");
        }

        await using var ingestion = store.BeginIngestion();
        var files = new Dictionary<string, (Digest Digest, long Size)>(StringComparer.Ordinal);
        var metadata = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        await using (var input = File.OpenRead(archive))
        {
            TarReader reader;
            try
            {
                reader = new TarReader(input);
            }
            catch (InvalidDataException e)
            {
                throw IsolaException.InvalidArgument($"image archive {archive}: not a tar file ({e.Message})");
            }

            TarEntry? entry;
            while ((entry = await NextAsync(reader, archive, cancellationToken).ConfigureAwait(false)) is not null)
            {
                if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile) || entry.DataStream is null)
                {
                    continue;
                }

                var path = entry.Name.TrimStart('.', '/');
                if (path is "index.json" or "manifest.json" or "oci-layout" or "repositories")
                {
                    if (entry.Length > MetadataLimit)
                    {
                        throw IsolaException.InvalidArgument($"image archive {archive}: {path} is {entry.Length} bytes, more than an index can be");
                    }

                    using var copy = new MemoryStream();
                    await entry.DataStream.CopyToAsync(copy, cancellationToken).ConfigureAwait(false);
                    metadata[path] = copy.ToArray();
                    continue;
                }

                var (temp, digest, size) = await store.Blobs.IngestAsync(entry.DataStream, $"{archive}:{path}", cancellationToken).ConfigureAwait(false);
                if (path.StartsWith("blobs/sha256/", StringComparison.Ordinal) && digest.Hex != path["blobs/sha256/".Length..])
                {
                    File.Delete(temp);
                    throw IsolaException.FailedPrecondition($"image archive {archive}: {path} hashes to {digest} (corrupted or tampered); nothing stored");
                }

                await ingestion.AddAsync([digest], cancellationToken).ConfigureAwait(false);
                store.Blobs.Commit(temp, digest);
                files[path] = (digest, size);
            }
        }

        if (metadata.TryGetValue("index.json", out var index))
        {
            return await ImportOciAsync(store, archive, name, index, cancellationToken).ConfigureAwait(false);
        }

        if (metadata.TryGetValue("manifest.json", out var manifest))
        {
            return await ImportDockerAsync(store, ingestion, archive, name, manifest, files, cancellationToken).ConfigureAwait(false);
        }

        throw IsolaException.InvalidArgument($"image archive {archive}: neither an OCI archive (index.json) nor a docker save archive (manifest.json)");
    }

    private static async Task<TarEntry?> NextAsync(TarReader reader, string archive, CancellationToken cancellationToken)
    {
        try
        {
            return await reader.GetNextEntryAsync(copyData: false, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is InvalidDataException or FormatException or EndOfStreamException)
        {
            throw IsolaException.InvalidArgument($"image archive {archive}: not a valid tar file ({e.Message})");
        }
    }

    private static async Task<IReadOnlyList<ImageInfo>> ImportOciAsync(ImageStore store, string archive, string? name, byte[] indexJson, CancellationToken cancellationToken)
    {
        var index = OciJson.Parse<ImageIndex>(indexJson, $"image archive {archive}: index.json");
        var images = new List<ImageInfo>();
        foreach (var descriptor in index.Manifests)
        {
            var reference = ReferenceOf(descriptor, archive, name);
            var manifest = await PlatformManifest.ResolveAsync(store.Blobs, descriptor, $"image archive {archive}", cancellationToken).ConfigureAwait(false);
            images.Add(await store.CommitAsync(manifest, [reference], $"image archive {archive}", cancellationToken).ConfigureAwait(false));
        }

        return images.Count > 0 ? images : throw IsolaException.InvalidArgument($"image archive {archive}: index.json lists no image");
    }

    /// <summary>The reference an index entry names: containerd's full-name annotation, or the OCI ref.name, which
    /// may be a whole reference or only a tag (then <paramref name="name"/> supplies the repository).</summary>
    private static string ReferenceOf(Descriptor descriptor, string archive, string? name)
    {
        var annotations = descriptor.Annotations ?? [];
        if (annotations.TryGetValue("io.containerd.image.name", out var full))
        {
            return ImageReference.Parse(full).ToString();
        }

        annotations.TryGetValue("org.opencontainers.image.ref.name", out var refName);
        if (refName is { Length: > 0 } && (refName.Contains('/', StringComparison.Ordinal) || refName.Contains(':', StringComparison.Ordinal)) && name is null)
        {
            return ImageReference.Parse(refName).ToString();
        }

        if (name is null)
        {
            throw IsolaException.InvalidArgument(refName is { Length: > 0 }
                ? $"image archive {archive} names its image only by the tag '{refName}': give a name (isola image import --name NAME)"
                : $"image archive {archive} does not name its image: give a name (isola image import --name NAME)");
        }

        var named = ImageReference.Parse(name);
        return (refName is { Length: > 0 } && !refName.Contains(':', StringComparison.Ordinal) && !refName.Contains('/', StringComparison.Ordinal)
            ? named with { Tag = refName, Digest = null }
            : named).ToString();
    }

    private static async Task<IReadOnlyList<ImageInfo>> ImportDockerAsync(ImageStore store, ImageStore.Ingestion ingestion, string archive, string? name,
        byte[] manifestJson, Dictionary<string, (Digest Digest, long Size)> files, CancellationToken cancellationToken)
    {
        var entries = OciJson.Parse<List<DockerSaveEntry>>(manifestJson, $"image archive {archive}: manifest.json");
        var images = new List<ImageInfo>();
        foreach (var entry in entries)
        {
            (Digest Digest, long Size) File(string path) =>
                files.TryGetValue(path, out var f) ? f : throw IsolaException.InvalidArgument($"image archive {archive}: manifest.json names {path}, which the archive does not hold");

            var config = File(entry.Config);
            var layers = entry.Layers.Select(l =>
            {
                var (digest, size) = File(l);
                return new Descriptor { MediaType = LayerMediaType(store.Blobs.PathOf(digest)), Digest = digest, Size = size };
            }).ToList();
            var manifest = new ImageManifest
            {
                SchemaVersion = 2,
                MediaType = MediaTypes.OciManifest,
                Config = new Descriptor { MediaType = MediaTypes.OciConfig, Digest = config.Digest, Size = config.Size },
                Layers = layers,
            };
            var bytes = JsonSerializer.SerializeToUtf8Bytes(manifest, OciJson.Options);
            var manifestDigest = Digest.Of(bytes);
            await ingestion.AddAsync([manifestDigest], cancellationToken).ConfigureAwait(false);
            await store.Blobs.WriteAsync(bytes, manifestDigest, $"image archive {archive}", cancellationToken).ConfigureAwait(false);
            var references = (entry.RepoTags ?? []).Select(t => ImageReference.Parse(t).ToString()).ToList();
            if (references.Count == 0)
            {
                references.Add(name is not null ? ImageReference.Parse(name).ToString()
                    : throw IsolaException.InvalidArgument($"image archive {archive}: an image has no RepoTags: give a name (isola image import --name NAME)"));
            }

            images.Add(await store.CommitAsync(manifestDigest, references, $"image archive {archive}", cancellationToken).ConfigureAwait(false));
        }

        return images;
    }

    /// <summary>docker save does not say how a layer is compressed: its first bytes do.</summary>
    private static string LayerMediaType(string blob)
    {
        Span<byte> magic = stackalloc byte[4];
        using var stream = System.IO.File.OpenRead(blob);
        var n = stream.Read(magic);
        return n >= 2 && magic[0] == 0x1f && magic[1] == 0x8b ? MediaTypes.OciLayerGzip
            : n == 4 && magic[0] == 0x28 && magic[1] == 0xb5 && magic[2] == 0x2f && magic[3] == 0xfd ? MediaTypes.OciLayerZstd
            : MediaTypes.OciLayer;
    }
}
