using System.Security.Cryptography;
using Isola.Images.Content;

namespace Isola.Images.Unpack;

/// <summary>Passes reads through and feeds every byte to a hash: the layer's diff id is the digest of its
/// uncompressed tar.</summary>
internal sealed class HashingReadStream(Stream inner, IncrementalHash hash) : PassThroughReadStream(inner, ownsInner: false)
{
    protected override void OnRead(ReadOnlySpan<byte> read, int asked) => hash.AppendData(read);
}

/// <summary>An uncompressed layer: the blob stream itself, which its owner closes.</summary>
internal sealed class NonClosingStream(Stream inner) : PassThroughReadStream(inner, ownsInner: false);
