using System.Buffers;
using Google.Protobuf;

namespace Isola.Ttrpc.Framing;

/// <summary>
/// Reads and writes whole ttrpc frames on a byte stream. Writes are serialised (frames of concurrent calls never
/// interleave); reads are meant for a single reader loop. The 4 MiB limit is enforced in both directions.
/// </summary>
internal sealed class FrameChannel : IAsyncDisposable
{
    private readonly Stream _stream;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly byte[] _headerBuffer = new byte[FrameHeader.Size];

    public FrameChannel(Stream stream)
    {
        _stream = stream;
    }

    /// <summary>Sends one frame. Oversized data is refused before anything is written, with ResourceExhausted.</summary>
    public Task WriteAsync(uint streamId, FrameType type, byte flags, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        var buffer = RentFrame(streamId, type, flags, data.Length);
        data.Span.CopyTo(buffer.AsSpan(FrameHeader.Size));
        return SendAsync(buffer, FrameHeader.Size + data.Length, cancellationToken);
    }

    /// <summary>Sends <paramref name="message"/> as one frame, encoded straight into the frame buffer (no intermediate
    /// byte array). Oversized messages are refused before anything is written, with ResourceExhausted.</summary>
    public Task WriteAsync(uint streamId, FrameType type, byte flags, IMessage message, CancellationToken cancellationToken)
    {
        var length = message.CalculateSize();
        var buffer = RentFrame(streamId, type, flags, length);
        message.WriteTo(buffer.AsSpan(FrameHeader.Size, length));
        return SendAsync(buffer, FrameHeader.Size + length, cancellationToken);
    }

    private static byte[] RentFrame(uint streamId, FrameType type, byte flags, int dataLength)
    {
        if (dataLength > FrameHeader.MaxDataLength)
        {
            throw new TtrpcException(TtrpcStatusCode.ResourceExhausted,
                $"ttrpc message of {dataLength} bytes exceeds the {FrameHeader.MaxDataLength}-byte limit");
        }

        var buffer = ArrayPool<byte>.Shared.Rent(FrameHeader.Size + dataLength);
        new FrameHeader((uint)dataLength, streamId, type, flags).Write(buffer);
        return buffer;
    }

    // One buffer, one write: the header and data of a frame reach the socket together. Returns the pooled buffer.
    private async Task SendAsync(byte[] buffer, int frameLength, CancellationToken cancellationToken)
    {
        try
        {
            await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                // Not cancellable once started: a half-written frame would corrupt the connection for every call.
                await _stream.WriteAsync(buffer.AsMemory(0, frameLength), CancellationToken.None).ConfigureAwait(false);
                await _stream.FlushAsync(CancellationToken.None).ConfigureAwait(false);
            }
            finally
            {
                _writeLock.Release();
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Reads the next frame; null at a clean end of stream. Oversized data is read and dropped, and the
    /// frame is returned with <see cref="Frame.Oversized"/> set so the caller can answer or fail that stream.</summary>
    public async Task<Frame?> ReadAsync(CancellationToken cancellationToken)
    {
        var got = await ReadAtLeastOrEofAsync(_headerBuffer, cancellationToken).ConfigureAwait(false);
        if (got == 0)
        {
            return null;
        }

        if (got < FrameHeader.Size)
        {
            throw new EndOfStreamException("connection closed inside a ttrpc frame header");
        }

        var header = FrameHeader.Read(_headerBuffer);
        if (header.Length > FrameHeader.MaxDataLength)
        {
            await DiscardAsync(header.Length, cancellationToken).ConfigureAwait(false);
            return new Frame(header, ReadOnlyMemory<byte>.Empty, Oversized: true);
        }

        var data = header.Length == 0 ? [] : new byte[header.Length];
        if (data.Length > 0)
        {
            await _stream.ReadExactlyAsync(data, cancellationToken).ConfigureAwait(false);
        }

        return new Frame(header, data, Oversized: false);
    }

    private async Task<int> ReadAtLeastOrEofAsync(byte[] buffer, CancellationToken cancellationToken) =>
        await _stream.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);

    private async Task DiscardAsync(uint length, CancellationToken cancellationToken)
    {
        var scratch = ArrayPool<byte>.Shared.Rent(64 * 1024);
        try
        {
            var left = (long)length;
            while (left > 0)
            {
                var n = await _stream.ReadAsync(scratch.AsMemory(0, (int)Math.Min(left, scratch.Length)), cancellationToken).ConfigureAwait(false);
                if (n == 0)
                {
                    throw new EndOfStreamException("connection closed inside an oversized ttrpc frame");
                }

                left -= n;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(scratch);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stream.DisposeAsync().ConfigureAwait(false);
    }
}

/// <summary>One received frame.</summary>
/// <param name="Header">Its header.</param>
/// <param name="Data">Its data (empty when <paramref name="Oversized"/>).</param>
/// <param name="Oversized">True when the data exceeded the limit and was dropped.</param>
internal readonly record struct Frame(FrameHeader Header, ReadOnlyMemory<byte> Data, bool Oversized);
