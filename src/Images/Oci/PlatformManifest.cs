using Isola.Images.Content;

namespace Isola.Images.Oci;

/// <summary>Picks the linux/amd64 manifest out of an index (nested indexes included); a manifest stands for itself.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
internal static class PlatformManifest
{
    public const string Os = "linux";
    public const string Architecture = "amd64";

    /// <summary>Chooses from an index's entries; null when none is for linux/amd64.</summary>
    public static Descriptor? Choose(ImageIndex index) =>
        index.Manifests.FirstOrDefault(m => m.Platform is { Os: Os, Architecture: Architecture } && MediaTypes.IsManifest(m.MediaType))
        ?? index.Manifests.FirstOrDefault(m => m.Platform is { Os: Os, Architecture: Architecture })
        ?? (index.Manifests.Count == 1 && index.Manifests[0].Platform is null ? index.Manifests[0] : null);

    /// <summary>Follows <paramref name="descriptor"/> through stored indexes to a stored manifest's digest.</summary>
    public static async Task<Digest> ResolveAsync(BlobStore blobs, Descriptor descriptor, string origin, CancellationToken cancellationToken)
    {
        for (var depth = 0; depth < 4; depth++)
        {
            var bytes = await blobs.ReadAllAsync(descriptor.Digest, cancellationToken).ConfigureAwait(false);
            var mediaType = descriptor.MediaType is { Length: > 0 } declared ? declared : OciJson.DeclaredMediaType(bytes);
            if (MediaTypes.IsManifest(mediaType))
            {
                return descriptor.Digest;
            }

            if (!MediaTypes.IsIndex(mediaType))
            {
                throw IsolaException.InvalidArgument($"{origin}: {descriptor.Digest} has media type '{mediaType}', neither a manifest nor an index");
            }

            var index = OciJson.Parse<ImageIndex>(bytes, $"{origin}: index {descriptor.Digest}");
            descriptor = Choose(index) ?? throw IsolaException.NotFound(
                $"{origin}: index {descriptor.Digest} has no {Os}/{Architecture} image (it has {string.Join(", ", index.Manifests.Select(m => m.Platform is { } p ? p.Os + "/" + p.Architecture : "unknown"))})");
        }

        throw IsolaException.InvalidArgument($"{origin}: indexes nest more than 4 deep");
    }
}
