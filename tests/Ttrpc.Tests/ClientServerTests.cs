using System.Diagnostics;
using System.Net.Sockets;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Isola.Ttrpc.Client;
using Isola.Ttrpc.Framing;
using Isola.Ttrpc.Server;
using Isola.Ttrpc.Transports;
using Isola.Ttrpc.Wire;

namespace Isola.Ttrpc.Tests;

/// <summary>The client against the project's own server on a real Unix socket.</summary>
public sealed class ClientServerTests : EchoServerTestBase
{
    [Fact]
    public async Task Unary_call_round_trips_and_sends_metadata_and_timeout()
    {
        var options = new TtrpcClientOptions { Metadata = new Dictionary<string, string> { [TtrpcClientOptions.NamespaceKey] = "isola" } };
        await using var client = await TtrpcClient.ConnectAsync("ttrpc+unix://" + ServerSocket.Path, options);

        var reply = await client.CallAsync(Svc, "Echo", new StringValue { Value = "hi" }, StringValue.Parser,
            new TtrpcCallOptions { Timeout = TimeSpan.FromSeconds(7), Metadata = new Dictionary<string, string> { ["k"] = "v" } });

        Assert.Equal("echo:hi", reply.Value);
        var ctx = Assert.Single(Seen);
        Assert.Equal("isola", ctx.GetMetadata(TtrpcClientOptions.NamespaceKey));
        Assert.Equal("v", ctx.GetMetadata("k"));
        Assert.NotNull(ctx.Deadline);
        var left = ctx.Deadline!.Value - DateTimeOffset.UtcNow;
        Assert.InRange(left.TotalSeconds, 5, 7.01);
    }

    [Fact]
    public async Task Concurrent_calls_are_multiplexed_and_answered_out_of_order()
    {
        await using var client = await TtrpcClient.ConnectAsync(ServerSocket.Path);
        var finished = new List<int>();
        var calls = Enumerable.Range(0, 6).Select(async i =>
        {
            var answer = await client.CallAsync(Svc, "Gather", new Int32Value { Value = i }, Int32Value.Parser);
            lock (finished)
            {
                finished.Add(i);
            }

            return answer.Value;
        }).ToList();

        // All six are in flight on one connection; answer them last-sent first, one at a time, and check that each
        // answer reaches its own caller while the earlier calls are still waiting.
        await AllGathered;
        var stillWaiting = new List<int>();
        for (var i = 5; i >= 0; i--)
        {
            Gates[i].SetResult();
            await calls[i];
            stillWaiting.Add(calls.Take(i).Count(c => !c.IsCompleted));
        }

        var results = await Task.WhenAll(calls);

        Assert.Equal(Enumerable.Range(0, 6), results); // each caller got its own answer
        Assert.Equal(Enumerable.Range(0, 6).Reverse(), finished); // the last sent came back first
        Assert.Equal([5, 4, 3, 2, 1, 0], stillWaiting);
    }

    [Fact]
    public async Task Error_status_maps_to_TtrpcException_with_code_and_endpoint()
    {
        await using var client = await TtrpcClient.ConnectAsync(ServerSocket.Path);

        var e = await Assert.ThrowsAsync<TtrpcException>(() => client.CallAsync(Svc, "Fail", new StringValue { Value = "x1" }, Empty.Parser));
        var missing = await Assert.ThrowsAsync<TtrpcException>(() => client.CallAsync(Svc, "Nope", new Empty(), Empty.Parser));

        Assert.Equal(TtrpcStatusCode.NotFound, e.Code);
        Assert.Contains("no such thing: x1", e.Message);
        Assert.Contains(ServerSocket.Path, e.Message);
        Assert.Equal(TtrpcStatusCode.Unimplemented, missing.Code);
    }

    [Fact]
    public async Task Deadline_expires_as_DeadlineExceeded()
    {
        await using var client = await TtrpcClient.ConnectAsync(ServerSocket.Path);

        var e = await Assert.ThrowsAsync<TtrpcException>(() => client.CallAsync(Svc, "Sleep",
            Duration.FromTimeSpan(TimeSpan.FromSeconds(30)), Duration.Parser, new TtrpcCallOptions { Timeout = TimeSpan.FromMilliseconds(200) }));

        Assert.Equal(TtrpcStatusCode.DeadlineExceeded, e.Code);
        // The connection stays usable after an abandoned call.
        Assert.Equal("echo:after", (await client.CallAsync(Svc, "Echo", new StringValue { Value = "after" }, StringValue.Parser)).Value);
    }

    [Fact]
    public async Task Oversized_request_is_refused_by_the_sender_and_oversized_response_by_the_server()
    {
        await using var client = await TtrpcClient.ConnectAsync(ServerSocket.Path);

        var send = await Assert.ThrowsAsync<TtrpcException>(() => client.CallAsync(Svc, "Echo",
            new BytesValue { Value = ByteString.CopyFrom(new byte[FrameHeader.MaxDataLength]) }, StringValue.Parser));
        var receive = await Assert.ThrowsAsync<TtrpcException>(() => client.CallAsync(Svc, "Big", new Int32Value { Value = FrameHeader.MaxDataLength }, BytesValue.Parser));
        var justUnder = await client.CallAsync(Svc, "Big", new Int32Value { Value = FrameHeader.MaxDataLength - 64 }, BytesValue.Parser);

        Assert.Equal(TtrpcStatusCode.ResourceExhausted, send.Code);
        Assert.Equal(TtrpcStatusCode.ResourceExhausted, receive.Code);
        Assert.Equal(FrameHeader.MaxDataLength - 64, justUnder.Value.Length);
        Assert.True(client.IsConnected);
    }

    [Fact]
    public async Task Streaming_call_exchanges_data_frames_and_ends_with_a_response()
    {
        await using var client = await TtrpcClient.ConnectAsync(ServerSocket.Path);
        await using var stream = await client.OpenStreamAsync(Svc, "Sum", ReadOnlyMemory<byte>.Empty, clientStreams: true);

        var partials = new List<int>();
        foreach (var n in new[] { 1, 2, 3 })
        {
            await stream.SendAsync(new Int32Value { Value = n });
            partials.Add(Int32Value.Parser.ParseFrom((await stream.ReadAsync())!.Value.Span).Value);
        }

        await stream.CloseSendAsync();
        var total = Int32Value.Parser.ParseFrom((await stream.ResponseAsync()).Span).Value;

        Assert.Equal([1, 3, 6], partials);
        Assert.Equal(6, total);
        Assert.Equal(1u, stream.StreamId % 2);
    }

    [Fact]
    public async Task Server_streaming_call_opened_remote_closed_gets_data_then_the_response()
    {
        await using var client = await TtrpcClient.ConnectAsync(ServerSocket.Path);
        await using var stream = await client.OpenStreamAsync(Svc, "Sum", ReadOnlyMemory<byte>.Empty, clientStreams: false);

        var data = await stream.ReadAsync();
        var total = Int32Value.Parser.ParseFrom((await stream.ResponseAsync()).Span).Value;

        Assert.Null(data); // the client sent nothing, so the handler's loop ended at once
        Assert.Equal(0, total);
    }
}
