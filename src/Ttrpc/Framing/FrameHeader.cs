using System.Buffers.Binary;

namespace Isola.Ttrpc.Framing;

/// <summary>
/// The 10-byte ttrpc frame header: big-endian uint32 data length, big-endian uint32 stream id, type, flags.
/// </summary>
internal readonly record struct FrameHeader(uint Length, uint StreamId, FrameType Type, byte Flags)
{
    /// <summary>Size of the header on the wire.</summary>
    public const int Size = 10;

    /// <summary>The largest data length either side may send or accept (4 MiB, as containerd/ttrpc).</summary>
    public const int MaxDataLength = 4 << 20;

    /// <summary>Writes the header into the first <see cref="Size"/> bytes of <paramref name="destination"/>.</summary>
    public void Write(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt32BigEndian(destination, Length);
        BinaryPrimitives.WriteUInt32BigEndian(destination[4..], StreamId);
        destination[8] = (byte)Type;
        destination[9] = Flags;
    }

    /// <summary>Decodes a header from the first <see cref="Size"/> bytes of <paramref name="source"/>.</summary>
    public static FrameHeader Read(ReadOnlySpan<byte> source) => new(
        BinaryPrimitives.ReadUInt32BigEndian(source),
        BinaryPrimitives.ReadUInt32BigEndian(source[4..]),
        (FrameType)source[8],
        source[9]);
}
