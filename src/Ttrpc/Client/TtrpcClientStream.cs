using Google.Protobuf;
using Isola.Ttrpc.Framing;

namespace Isola.Ttrpc.Client;

/// <summary>One open streaming call: Data frames both ways, ended by the server's Response.</summary>
public sealed class TtrpcClientStream : IAsyncDisposable
{
    private readonly TtrpcClient _client;
    private readonly PendingCall _call;
    private readonly string _what;

    internal TtrpcClientStream(TtrpcClient client, uint streamId, PendingCall call, string what)
    {
        _client = client;
        StreamId = streamId;
        _call = call;
        _what = what;
    }

    /// <summary>The stream id (odd).</summary>
    public uint StreamId { get; }

    /// <summary>Sends one Data frame.</summary>
    public Task SendAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default) =>
        _client.SendDataAsync(StreamId, 0, data, cancellationToken);

    /// <summary>Sends one message as a Data frame.</summary>
    public Task SendAsync(IMessage message, CancellationToken cancellationToken = default) =>
        SendAsync(message.ToByteArray(), cancellationToken);

    /// <summary>Tells the server no more data follows (Data, flags "remote closed | no data", as the Go client).</summary>
    public Task CloseSendAsync(CancellationToken cancellationToken = default) =>
        _client.SendDataAsync(StreamId, FrameFlags.RemoteClosed | FrameFlags.NoData, ReadOnlyMemory<byte>.Empty, cancellationToken);

    /// <summary>The next Data frame from the server; null when the server has closed its side.</summary>
    public async Task<ReadOnlyMemory<byte>?> ReadAsync(CancellationToken cancellationToken = default)
    {
        var reader = _call.Data!.Reader;
        if (await reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false) && reader.TryRead(out var data))
        {
            return data;
        }

        return null;
    }

    /// <summary>The server's final Response payload; throws the mapped error for a non-OK status.</summary>
    public async Task<ReadOnlyMemory<byte>> ResponseAsync(CancellationToken cancellationToken = default)
    {
        var response = await _call.Response.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        if (response.Status is { Code: not 0 } status)
        {
            throw _client.StatusError(status, _what);
        }

        return response.Payload.Memory;
    }

    /// <summary>Stops tracking the stream; later frames for it are dropped.</summary>
    public ValueTask DisposeAsync()
    {
        _client.Forget(StreamId);
        return ValueTask.CompletedTask;
    }
}
