using System.Security.Cryptography;

namespace Isola.Images.Content;

/// <summary>
/// Content-addressed blobs under <c>blobs/sha256/&lt;hex&gt;</c>. A blob is written to <c>ingest/</c> first and renamed
/// into place only once its digest (and size, when known) match, so a reader never sees a partial or wrong blob, and
/// concurrent writers of the same blob both end with the same file.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
internal sealed class BlobStore
{
    private const int Enospc = 28;
    private readonly string _blobs;
    private readonly string _ingest;

    public BlobStore(string root)
    {
        _blobs = Path.Combine(root, "blobs", "sha256");
        _ingest = Path.Combine(root, "ingest");
        Directory.CreateDirectory(_blobs, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        Directory.CreateDirectory(_ingest, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    public string PathOf(Digest digest) => Path.Combine(_blobs, digest.Hex);

    public bool Exists(Digest digest) => File.Exists(PathOf(digest));

    /// <summary>All stored digests (for the collector).</summary>
    public IEnumerable<Digest> List() =>
        Directory.EnumerateFiles(_blobs).Select(f => Digest.TryParse("sha256:" + Path.GetFileName(f), out var d) ? d : (Digest?)null)
            .Where(d => d is not null).Select(d => d!.Value);

    public void Delete(Digest digest) => File.Delete(PathOf(digest));

    /// <summary>Stores <paramref name="source"/> as <paramref name="digest"/>, refusing content that does not hash to it
    /// or is not <paramref name="size"/> bytes long; <paramref name="origin"/> names where it came from in errors.</summary>
    public async Task WriteAsync(Stream source, Digest digest, long? size, string origin, CancellationToken cancellationToken)
    {
        if (Exists(digest))
        {
            return;
        }

        var (temp, actual, written) = await CopyToIngestAsync(source, digest.Hex, size, $"blob {digest} from {origin}", cancellationToken).ConfigureAwait(false);
        try
        {
            if (size is { } expected && written != expected)
            {
                throw IsolaException.FailedPrecondition($"blob {digest} from {origin}: {written} bytes, its descriptor declares {expected}; nothing stored");
            }

            if (actual != digest)
            {
                throw IsolaException.FailedPrecondition($"blob {digest} from {origin}: content hashes to {actual} (corrupted or tampered); nothing stored");
            }

            File.Move(temp, PathOf(digest), overwrite: true);
        }
        finally
        {
            File.Delete(temp);
        }
    }

    /// <summary>Writes <paramref name="source"/> to the ingest directory and hashes it, for content whose digest is
    /// not known beforehand (a docker-save layer); <see cref="Commit"/> moves it into place once it is leased.</summary>
    public Task<(string Temp, Digest Digest, long Size)> IngestAsync(Stream source, string origin, CancellationToken cancellationToken) =>
        CopyToIngestAsync(source, "unknown", null, origin, cancellationToken);

    /// <summary>Copies into a new file of the ingest directory (named <c>NAME.PID.RANDOM</c>, so the collector knows
    /// whose it is), hashing on the way and stopping past <paramref name="limit"/> bytes; the file is deleted on failure.</summary>
    private async Task<(string Temp, Digest Digest, long Size)> CopyToIngestAsync(Stream source, string name, long? limit, string what, CancellationToken cancellationToken)
    {
        var temp = Path.Combine(_ingest, $"{name}.{Environment.ProcessId}.{Guid.NewGuid().ToString("N")[..8]}");
        try
        {
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            long written = 0;
            await using (var output = new FileStream(temp, new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.Write,
                UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
                Options = FileOptions.Asynchronous,
            }))
            {
                var buffer = new byte[128 * 1024];
                int n;
                while ((n = await source.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
                {
                    written += n;
                    if (limit is { } max && written > max)
                    {
                        throw IsolaException.FailedPrecondition($"{what}: more than the {max} bytes its descriptor declares; nothing stored");
                    }

                    hash.AppendData(buffer, 0, n);
                    await output.WriteAsync(buffer.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
                }

                output.Flush(flushToDisk: true);
            }

            return (temp, Digest.FromHash(hash.GetHashAndReset()), written);
        }
        catch (IOException e) when (e.HResult == Enospc || e.Message.Contains("No space left", StringComparison.Ordinal))
        {
            File.Delete(temp);
            throw new IsolaException(IsolaErrorCode.ResourceExhausted, $"{what}: no space left on the device holding {_ingest}; nothing stored", e);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
    }

    /// <summary>Moves an ingested file into place as <paramref name="digest"/>.</summary>
    public void Commit(string temp, Digest digest)
    {
        if (Exists(digest))
        {
            File.Delete(temp);
            return;
        }

        File.Move(temp, PathOf(digest), overwrite: true);
    }

    /// <summary>Stores bytes already in memory (manifests, configs).</summary>
    public Task WriteAsync(ReadOnlyMemory<byte> content, Digest digest, string origin, CancellationToken cancellationToken)
    {
        var stream = new MemoryStream(content.ToArray(), writable: false);
        return WriteAsync(stream, digest, content.Length, origin, cancellationToken);
    }

    /// <summary>Opens a stored blob; the stream fails at its end if the bytes on disk no longer hash to the digest.</summary>
    public Stream OpenRead(Digest digest)
    {
        var path = PathOf(digest);
        if (!File.Exists(path))
        {
            throw IsolaException.NotFound($"blob {digest} is not in the image store ({path})");
        }

        return new VerifyingStream(File.OpenRead(path), digest, path);
    }

    /// <summary>Reads a small stored blob whole, verified.</summary>
    public async Task<byte[]> ReadAllAsync(Digest digest, CancellationToken cancellationToken)
    {
        await using var stream = OpenRead(digest);
        using var copy = new MemoryStream();
        await stream.CopyToAsync(copy, cancellationToken).ConfigureAwait(false);
        return copy.ToArray();
    }
}
