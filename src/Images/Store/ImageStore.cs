using Isola.Images.Content;
using Isola.Images.Oci;
using Isola.Images.References;
using Isola.Images.Unpack;

namespace Isola.Images.Store;

/// <summary>
/// The image store under a root directory (by default <c>&lt;state root&gt;/images</c>):
/// <code>
/// blobs/sha256/HEX   content-addressed blobs, verified on write and when read whole
/// ingest/            blobs being written (renamed into blobs/ once verified)
/// refs/HASH.json     one record per reference: manifest, config (the image id), layers, run defaults
/// snapshots/DIFFHEX  each layer unpacked once, in overlayfs form, named by its diff id
/// leases/NAME.json   what pulls in progress and containers still use
/// lock               held while records change or garbage is collected
/// </code>
/// Safe under concurrent processes: writes land by rename, record changes and collection hold the lock.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
internal sealed partial class ImageStore : IImageStore
{
    private readonly string _root;
    private readonly BlobStore _blobs;
    private readonly ImageRecords _records;
    private readonly Leases _leases;
    private readonly string _snapshots;
    private readonly RegistryOptions _registries;
    private readonly HttpMessageHandler? _handler;

    public ImageStore(string root, RegistryOptions registries, HttpMessageHandler? handler)
    {
        _root = root;
        Directory.CreateDirectory(root, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        _blobs = new BlobStore(root);
        _records = new ImageRecords(Path.Combine(root, "refs"));
        _leases = new Leases(Path.Combine(root, "leases"));
        _snapshots = Path.Combine(root, "snapshots");
        Directory.CreateDirectory(_snapshots);
        Directory.CreateDirectory(_leases.Directory);
        _registries = registries;
        _handler = handler;
    }

    public string Root => _root;

    public Task<IReadOnlyList<ImageInfo>> ListAsync(CancellationToken cancellationToken = default) => Task.FromResult(_records.List());

    public Task<ImageInfo?> FindAsync(string referenceOrId, CancellationToken cancellationToken = default) => Task.FromResult(Find(referenceOrId));

    public async Task<ImageInfo> GetAsync(string referenceOrId, CancellationToken cancellationToken = default) =>
        await FindAsync(referenceOrId, cancellationToken).ConfigureAwait(false)
        ?? throw IsolaException.NotFound($"image '{referenceOrId}' is not in the image store ({_root}): pull or import it first");

    public async Task<IReadOnlyList<string>> RemoveAsync(string referenceOrId, CancellationToken cancellationToken = default)
    {
        using (await StoreLock.AcquireAsync(LockPath, cancellationToken).ConfigureAwait(false))
        {
            var byReference = ImageReference.TryParse(referenceOrId, out var reference, out _) ? _records.Read(reference.ToString()) : null;
            var victims = byReference is not null ? [byReference] : _records.List().Where(i => MatchesId(i, referenceOrId)).ToList();
            if (victims.Count == 0)
            {
                throw IsolaException.NotFound($"image '{referenceOrId}' is not in the image store ({_root})");
            }

            foreach (var image in victims)
            {
                _records.Delete(image.Reference);
            }

            CollectLocked();
            return [.. victims.Select(v => v.Reference)];
        }
    }

    public IReadOnlyList<string> LayerDirectories(ImageInfo image) =>
        [.. image.Layers.Select(l => Path.Combine(_snapshots, l.DiffId.Hex))];

    public async Task LeaseAsync(string holder, ImageInfo image, CancellationToken cancellationToken = default)
    {
        using (await StoreLock.AcquireAsync(LockPath, cancellationToken).ConfigureAwait(false))
        {
            var missing = image.Layers.Where(l => !Directory.Exists(Path.Combine(_snapshots, l.DiffId.Hex))).ToList();
            if (missing.Count > 0)
            {
                throw IsolaException.NotFound($"image {image.Reference}: layer {missing[0].DiffId} is no longer unpacked in {_snapshots}; pull the image again");
            }

            _leases.Write(LeaseName(holder), new Leases.Lease(null, [], [.. image.Layers.Select(l => l.DiffId)], holder));
        }
    }

    public async Task ReleaseAsync(string holder, CancellationToken cancellationToken = default)
    {
        using (await StoreLock.AcquireAsync(LockPath, cancellationToken).ConfigureAwait(false))
        {
            _leases.Delete(LeaseName(holder));
            CollectLocked();
        }
    }

    public async Task<string> MountRootfsAsync(ImageInfo image, string directory, string holder, CancellationToken cancellationToken = default)
    {
        await LeaseAsync(holder, image, cancellationToken).ConfigureAwait(false);
        try
        {
            return Rootfs.OverlayRootfs.Mount(directory, LayerDirectories(image));
        }
        catch
        {
            await ReleaseAsync(holder, CancellationToken.None).ConfigureAwait(false);
            throw;
        }
    }

    public async Task UnmountRootfsAsync(string directory, string holder, CancellationToken cancellationToken = default)
    {
        Rootfs.OverlayRootfs.Unmount(directory);
        await ReleaseAsync(holder, cancellationToken).ConfigureAwait(false);
    }

    public Task<IReadOnlyList<string>> HoldersAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult<IReadOnlyList<string>>([.. _leases.ReadLive().Select(l => l.Holder).OfType<string>()]);

    public async Task CollectGarbageAsync(CancellationToken cancellationToken = default)
    {
        using (await StoreLock.AcquireAsync(LockPath, cancellationToken).ConfigureAwait(false))
        {
            CollectLocked();
        }
    }

    private string LockPath => Path.Combine(_root, "lock");

    private static string LeaseName(string holder) =>
        "holder-" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(holder)))[..32];

    private ImageInfo? Find(string referenceOrId)
    {
        if (ImageReference.TryParse(referenceOrId, out var reference, out _) && _records.Read(reference.ToString()) is { } byReference)
        {
            return byReference;
        }

        return _records.List().FirstOrDefault(i => MatchesId(i, referenceOrId));
    }

    /// <summary>An id given whole (<c>sha256:HEX</c>) or as a prefix of at least 12 hex digits, as <c>docker</c> and
    /// <c>crictl</c> accept.</summary>
    private static bool MatchesId(ImageInfo image, string text)
    {
        var hex = text.StartsWith("sha256:", StringComparison.Ordinal) ? text[7..] : text;
        return hex.Length >= 12 && hex.All(char.IsAsciiHexDigitLower) && image.Id.Hex.StartsWith(hex, StringComparison.Ordinal);
    }

    /// <summary>Deletes blobs and snapshots no record or live lease names, and leftovers of dead writers. Holds the lock.</summary>
    private void CollectLocked()
    {
        var blobs = new HashSet<Digest>();
        var snapshots = new HashSet<string>(StringComparer.Ordinal);
        foreach (var image in _records.List())
        {
            blobs.Add(image.ManifestDigest);
            blobs.Add(image.Id);
            foreach (var layer in image.Layers)
            {
                blobs.Add(layer.Digest);
                snapshots.Add(layer.DiffId.Hex);
            }
        }

        foreach (var lease in _leases.ReadLive())
        {
            blobs.UnionWith(lease.Blobs);
            snapshots.UnionWith(lease.Snapshots.Select(s => s.Hex));
        }

        foreach (var digest in _blobs.List().Where(d => !blobs.Contains(d)).ToList())
        {
            _blobs.Delete(digest);
        }

        foreach (var dir in Directory.EnumerateDirectories(_snapshots))
        {
            var name = Path.GetFileName(dir);
            var keep = name.StartsWith(".tmp-", StringComparison.Ordinal) ? WriterIsAlive(name) : snapshots.Contains(name);
            if (!keep)
            {
                Directory.Delete(dir, recursive: true);
            }
        }

        foreach (var file in Directory.EnumerateFiles(Path.Combine(_root, "ingest")))
        {
            if (!WriterIsAlive(Path.GetFileName(file)))
            {
                File.Delete(file);
            }
        }
    }

    /// <summary>Whether the process that named a temporary file or directory still runs: ingest files are
    /// <c>HEX.PID.RANDOM</c>, snapshots being unpacked <c>.tmp-PID-RANDOM</c>.</summary>
    private static bool WriterIsAlive(string name)
    {
        var pidText = name.StartsWith(".tmp-", StringComparison.Ordinal) ? name[5..].Split('-')[0]
            : name.Split('.') is { Length: 3 } fields ? fields[1] : "";
        return int.TryParse(pidText, out var pid) && Leases.ProcessIsAlive(pid);
    }
}
