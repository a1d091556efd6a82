using System.Security.Cryptography;

namespace Isola.Images.Content;

/// <summary>A read-only stream that hashes what passes through it and throws at the end if the hash is not the
/// expected digest: a blob damaged on disk is caught the first time it is read whole, not trusted.</summary>
internal sealed class VerifyingStream(Stream inner, Digest expected, string origin) : PassThroughReadStream(inner, ownsInner: true)
{
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private bool _checked;

    protected override void OnRead(ReadOnlySpan<byte> read, int asked)
    {
        if (read.Length > 0 || asked == 0)
        {
            // A read of nothing is not the end of the stream (tar readers ask for zero bytes at entry boundaries).
            _hash.AppendData(read);
            return;
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
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _hash.Dispose();
        }

        base.Dispose(disposing);
    }
}
