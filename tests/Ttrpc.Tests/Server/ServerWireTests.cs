using System.Diagnostics;
using System.Net.Sockets;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Isola.Ttrpc.Client;
using Isola.Ttrpc.Framing;
using Isola.Ttrpc.Server;
using Isola.Ttrpc.Transports;
using Isola.Ttrpc.Wire;

namespace Isola.Ttrpc.Tests.Server;

/// <summary>The project's server driven frame by frame: what it answers on the wire.</summary>
public sealed class ServerWireTests : EchoServerTestBase
{
    [Fact]
    public async Task Server_rejects_even_stream_ids_and_oversized_requests_on_the_wire()
    {
        await using var raw = await TtrpcTransport.ConnectUnixAsync(ServerSocket.Path);
        var request = new Request { Service = Svc, Method = "Echo", Payload = new StringValue { Value = "x" }.ToByteString() }.ToByteArray();

        await RawWire.WriteFrameAsync(raw, 2, FrameType.Request, request);
        var even = await RawWire.ReadResponseAsync(raw);
        var header = new byte[FrameHeader.Size];
        new FrameHeader(FrameHeader.MaxDataLength + 1, 5, FrameType.Request, 0).Write(header);
        await raw.WriteAsync(header);
        await raw.WriteAsync(new byte[FrameHeader.MaxDataLength + 1]);
        var big = await RawWire.ReadResponseAsync(raw);
        await RawWire.WriteFrameAsync(raw, 7, FrameType.Request, request);
        var ok = await RawWire.ReadResponseAsync(raw);

        Assert.Equal((2u, (int)TtrpcStatusCode.InvalidArgument), (even.Id, even.Response.Status.Code));
        Assert.Equal((5u, (int)TtrpcStatusCode.ResourceExhausted), (big.Id, big.Response.Status.Code));
        Assert.Equal((7u, 0), (ok.Id, ok.Response.Status?.Code ?? 0));
        Assert.Equal("echo:x", StringValue.Parser.ParseFrom(ok.Response.Payload).Value);
    }

    [Fact]
    public async Task Server_enforces_timeout_nano_and_answers_DeadlineExceeded()
    {
        await using var raw = await TtrpcTransport.ConnectUnixAsync(ServerSocket.Path);
        var request = new Request
        {
            Service = Svc,
            Method = "Sleep",
            Payload = Duration.FromTimeSpan(TimeSpan.FromSeconds(30)).ToByteString(),
            TimeoutNano = 150_000_000,
        }.ToByteArray();
        var clock = Stopwatch.StartNew();

        await RawWire.WriteFrameAsync(raw, 1, FrameType.Request, request);
        var (id, response) = await RawWire.ReadResponseAsync(raw).WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(1u, id);
        Assert.Equal((int)TtrpcStatusCode.DeadlineExceeded, response.Status.Code);
        Assert.InRange(clock.Elapsed.TotalSeconds, 0.1, 5);
    }

    [Fact]
    public async Task Listening_socket_is_private_to_its_owner()
    {
        var mode = File.GetUnixFileMode(ServerSocket.Path);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, mode);
        await Task.CompletedTask;
    }
}
