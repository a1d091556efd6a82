using System.Threading.Channels;
using Google.Protobuf;
using Isola.Ttrpc.Framing;

namespace Isola.Ttrpc.Server;

/// <summary>The server's end of a streaming call: the request payload, the client's Data frames, and a way to send Data.</summary>
public sealed class TtrpcServerStream
{
    private readonly FrameChannel _channel;
    private readonly Channel<ReadOnlyMemory<byte>> _incoming =
        Channel.CreateUnbounded<ReadOnlyMemory<byte>>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });

    internal TtrpcServerStream(FrameChannel channel, uint streamId, ReadOnlyMemory<byte> requestPayload, bool clientClosed)
    {
        _channel = channel;
        StreamId = streamId;
        RequestPayload = requestPayload;
        if (clientClosed)
        {
            _incoming.Writer.TryComplete();
        }
    }

    /// <summary>The stream id.</summary>
    public uint StreamId { get; }

    /// <summary>The payload of the opening Request.</summary>
    public ReadOnlyMemory<byte> RequestPayload { get; }

    /// <summary>The client's next Data frame; null once the client has closed its side.</summary>
    public async Task<ReadOnlyMemory<byte>?> ReadAsync(CancellationToken cancellationToken = default)
    {
        if (await _incoming.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false) && _incoming.Reader.TryRead(out var data))
        {
            return data;
        }

        return null;
    }

    /// <summary>Sends one Data frame to the client.</summary>
    public Task SendAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default) =>
        _channel.WriteAsync(StreamId, FrameType.Data, 0, data, cancellationToken);

    /// <summary>Sends one message as a Data frame.</summary>
    public Task SendAsync(IMessage message, CancellationToken cancellationToken = default) =>
        SendAsync(message.ToByteArray(), cancellationToken);

    internal void OnData(ReadOnlyMemory<byte> data, byte flags)
    {
        if ((flags & FrameFlags.NoData) == 0)
        {
            _incoming.Writer.TryWrite(data);
        }

        if ((flags & FrameFlags.RemoteClosed) != 0)
        {
            _incoming.Writer.TryComplete();
        }
    }

    internal void OnClosed() => _incoming.Writer.TryComplete();
}
