using System.Security.Cryptography;

namespace Isola.Images.Content;

/// <summary>A read-only stream that hashes what passes through it and throws at the end if the hash is not the
/// expected digest: a blob damaged on disk is caught the first time it is read whole, not trusted.</summary>
internal sealed class VerifyingStream(Stream inner, Digest expected, string origin) : Stream
{
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private bool _checked;

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => inner.Length;

    public override long Position { get => inner.Position; set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var n = inner.Read(buffer);
        return Account(buffer[..n], buffer.Length);
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var n = await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        return Account(buffer.Span[..n], buffer.Length);
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inner.Dispose();
            _hash.Dispose();
        }

        base.Dispose(disposing);
    }

    private int Account(ReadOnlySpan<byte> read, int asked)
    {
        if (read.Length > 0 || asked == 0)
        {
            // A read of nothing is not the end of the stream (tar readers ask for zero bytes at entry boundaries).
            _hash.AppendData(read);
            return read.Length;
        }

        if (!_checked)
        {
            _checked = true;
            var actual = Digest.FromHash(_hash.GetHashAndReset());
            if (actual != expected)
            {
                throw IsolaException.FailedPrecondition($"blob {expected} ({origin}) now hashes to {actual}: the image store is damaged; remove the image and pull or import it again");
            }
        }

        return 0;
    }
}
