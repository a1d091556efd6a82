using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Isola.Ttrpc.Client;
using Isola.Ttrpc.Framing;
using Isola.Ttrpc.Wire;

namespace Isola.Ttrpc.Tests.Client;

/// <summary>A peer that answers with bytes that are not a ttrpc Response: a protocol error for that call only.</summary>
public sealed class MalformedResponseTests : IDisposable
{
    private readonly TestSocket _socket = new();

    public void Dispose() => _socket.Dispose();

    [Fact]
    public async Task A_malformed_response_fails_its_call_as_Internal_naming_the_endpoint_and_the_connection_goes_on()
    {
        using var listener = RawWire.Listen(_socket.Path);
        var peer = Task.Run(async () =>
        {
            using var accepted = await listener.AcceptAsync();
            await using var s = new System.Net.Sockets.NetworkStream(accepted);
            var (first, _) = await RawWire.ReadFrameAsync(s);
            await RawWire.WriteFrameAsync(s, first.StreamId, FrameType.Response, [0x12, 0xff, 0x01]); // payload, length 255, 1 byte
            var (second, _) = await RawWire.ReadFrameAsync(s);
            var ok = new Response { Status = new Wire.Status(), Payload = new StringValue { Value = "fine" }.ToByteString() };
            await RawWire.WriteFrameAsync(s, second.StreamId, FrameType.Response, ok.ToByteArray());
            await RawWire.ReadFrameAsync(s).ContinueWith(_ => { }); // until the client goes
        });
        var address = "unix://" + _socket.Path;
        await using var client = await TtrpcClient.ConnectAsync(address);

        var e = await Assert.ThrowsAsync<TtrpcException>(() => client.CallAsync("s", "M", new Empty(), StringValue.Parser));
        var after = await client.CallAsync("s", "M", new Empty(), StringValue.Parser);

        Assert.Equal(TtrpcStatusCode.Internal, e.Code);
        Assert.Contains("protocol error", e.Message);
        Assert.Contains(address, e.Message);
        Assert.True(client.IsConnected);
        Assert.Equal("fine", after.Value);
        await client.DisposeAsync();
        await peer;
    }

    [Fact]
    public async Task A_response_payload_of_the_wrong_shape_is_an_Internal_protocol_error()
    {
        using var listener = RawWire.Listen(_socket.Path);
        var peer = Task.Run(async () =>
        {
            using var accepted = await listener.AcceptAsync();
            await using var s = new System.Net.Sockets.NetworkStream(accepted);
            var (first, _) = await RawWire.ReadFrameAsync(s);
            var bad = new Response { Status = new Wire.Status(), Payload = ByteString.CopyFrom(0x0a, 0x7f) };
            await RawWire.WriteFrameAsync(s, first.StreamId, FrameType.Response, bad.ToByteArray());
            await RawWire.ReadFrameAsync(s).ContinueWith(_ => { });
        });
        await using var client = await TtrpcClient.ConnectAsync("unix://" + _socket.Path);

        var e = await Assert.ThrowsAsync<TtrpcException>(() => client.CallAsync("s", "M", new Empty(), StringValue.Parser));

        Assert.Equal(TtrpcStatusCode.Internal, e.Code);
        Assert.Contains("s/M", e.Message);
        await client.DisposeAsync();
        await peer;
    }
}
