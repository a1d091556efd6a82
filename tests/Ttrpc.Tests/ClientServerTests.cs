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
public sealed class ClientServerTests : IAsyncLifetime
{
    private const string Svc = "isola.test.v1.Echo";
    private readonly TestSocket _socket = new();
    private readonly TtrpcServer _server = new();
    private readonly List<TtrpcCallContext> _seen = [];
    private readonly TaskCompletionSource _allArrived = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _gathered;

    public Task InitializeAsync()
    {
        _server.AddUnary(Svc, "Echo", StringValue.Parser, (req, ctx) =>
        {
            lock (_seen)
            {
                _seen.Add(ctx);
            }

            return Task.FromResult(new StringValue { Value = "echo:" + req.Value });
        });
        // Sleeps for the requested time, so calls started together finish in the opposite order.
        _server.AddUnary(Svc, "Sleep", Duration.Parser, async (req, ctx) =>
        {
            await Task.Delay(req.ToTimeSpan(), ctx.CancellationToken);
            return req;
        });
        // Answers only once six calls are in flight at the same time, the later ones first.
        _server.AddUnary(Svc, "Gather", Int32Value.Parser, async (req, ctx) =>
        {
            if (Interlocked.Increment(ref _gathered) == 6)
            {
                _allArrived.SetResult();
            }

            await _allArrived.Task.WaitAsync(ctx.CancellationToken);
            await Task.Delay(150 * (6 - req.Value), ctx.CancellationToken);
            return req;
        });
        _server.AddUnary(Svc, "Fail", StringValue.Parser, (req, _) =>
            Task.FromException<Empty>(new IsolaException(IsolaErrorCode.NotFound, "no such thing: " + req.Value)));
        _server.AddUnary(Svc, "Big", Int32Value.Parser, (req, _) =>
            Task.FromResult(new BytesValue { Value = ByteString.CopyFrom(new byte[req.Value]) }));
        _server.AddStreaming(Svc, "Sum", async (stream, ctx) =>
        {
            var sum = 0;
            while (await stream.ReadAsync(ctx.CancellationToken) is { } data)
            {
                var n = Int32Value.Parser.ParseFrom(data.Span).Value;
                sum += n;
                await stream.SendAsync(new Int32Value { Value = sum }, ctx.CancellationToken);
            }

            return new Int32Value { Value = sum }.ToByteArray();
        });
        _server.ListenUnix(_socket.Path);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        _socket.Dispose();
    }

    [Fact]
    public async Task Unary_call_round_trips_and_sends_metadata_and_timeout()
    {
        var options = new TtrpcClientOptions { Metadata = new Dictionary<string, string> { [TtrpcClientOptions.NamespaceKey] = "isola" } };
        await using var client = await TtrpcClient.ConnectAsync("ttrpc+unix://" + _socket.Path, options);

        var reply = await client.CallAsync(Svc, "Echo", new StringValue { Value = "hi" }, StringValue.Parser,
            new TtrpcCallOptions { Timeout = TimeSpan.FromSeconds(7), Metadata = new Dictionary<string, string> { ["k"] = "v" } });

        Assert.Equal("echo:hi", reply.Value);
        var ctx = Assert.Single(_seen);
        Assert.Equal("isola", ctx.GetMetadata(TtrpcClientOptions.NamespaceKey));
        Assert.Equal("v", ctx.GetMetadata("k"));
        Assert.NotNull(ctx.Deadline);
        var left = ctx.Deadline!.Value - DateTimeOffset.UtcNow;
        Assert.InRange(left.TotalSeconds, 5, 7.01);
    }

    [Fact]
    public async Task Concurrent_calls_are_multiplexed_and_answered_out_of_order()
    {
        await using var client = await TtrpcClient.ConnectAsync(_socket.Path);
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

        var results = await Task.WhenAll(calls);

        Assert.Equal(Enumerable.Range(0, 6), results); // each caller got its own answer
        Assert.Equal(Enumerable.Range(0, 6).Reverse(), finished); // the last sent came back first
    }

    [Fact]
    public async Task Error_status_maps_to_IsolaException_with_code_and_endpoint()
    {
        await using var client = await TtrpcClient.ConnectAsync(_socket.Path);

        var e = await Assert.ThrowsAsync<IsolaException>(() => client.CallAsync(Svc, "Fail", new StringValue { Value = "x1" }, Empty.Parser));
        var missing = await Assert.ThrowsAsync<IsolaException>(() => client.CallAsync(Svc, "Nope", new Empty(), Empty.Parser));

        Assert.Equal(IsolaErrorCode.NotFound, e.Code);
        Assert.Contains("no such thing: x1", e.Message);
        Assert.Contains(_socket.Path, e.Message);
        Assert.Equal(IsolaErrorCode.Unimplemented, missing.Code);
    }

    [Fact]
    public async Task Deadline_expires_as_DeadlineExceeded()
    {
        await using var client = await TtrpcClient.ConnectAsync(_socket.Path);

        var e = await Assert.ThrowsAsync<IsolaException>(() => client.CallAsync(Svc, "Sleep",
            Duration.FromTimeSpan(TimeSpan.FromSeconds(30)), Duration.Parser, new TtrpcCallOptions { Timeout = TimeSpan.FromMilliseconds(200) }));

        Assert.Equal(IsolaErrorCode.DeadlineExceeded, e.Code);
        // The connection stays usable after an abandoned call.
        Assert.Equal("echo:after", (await client.CallAsync(Svc, "Echo", new StringValue { Value = "after" }, StringValue.Parser)).Value);
    }

    [Fact]
    public async Task Oversized_request_is_refused_by_the_sender_and_oversized_response_by_the_server()
    {
        await using var client = await TtrpcClient.ConnectAsync(_socket.Path);

        var send = await Assert.ThrowsAsync<IsolaException>(() => client.CallAsync(Svc, "Echo",
            new BytesValue { Value = ByteString.CopyFrom(new byte[FrameHeader.MaxDataLength]) }, StringValue.Parser));
        var receive = await Assert.ThrowsAsync<IsolaException>(() => client.CallAsync(Svc, "Big", new Int32Value { Value = FrameHeader.MaxDataLength }, BytesValue.Parser));
        var justUnder = await client.CallAsync(Svc, "Big", new Int32Value { Value = FrameHeader.MaxDataLength - 64 }, BytesValue.Parser);

        Assert.Equal(IsolaErrorCode.ResourceExhausted, send.Code);
        Assert.Equal(IsolaErrorCode.ResourceExhausted, receive.Code);
        Assert.Equal(FrameHeader.MaxDataLength - 64, justUnder.Value.Length);
        Assert.True(client.IsConnected);
    }

    [Fact]
    public async Task Streaming_call_exchanges_data_frames_and_ends_with_a_response()
    {
        await using var client = await TtrpcClient.ConnectAsync(_socket.Path);
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
    public async Task Server_rejects_even_stream_ids_and_oversized_requests_on_the_wire()
    {
        await using var raw = await TtrpcTransport.ConnectUnixAsync(_socket.Path);
        var request = new Request { Service = Svc, Method = "Echo", Payload = new StringValue { Value = "x" }.ToByteString() }.ToByteArray();

        await WriteFrameAsync(raw, 2, FrameType.Request, request);
        var even = await ReadResponseAsync(raw);
        var header = new byte[FrameHeader.Size];
        new FrameHeader(FrameHeader.MaxDataLength + 1, 5, FrameType.Request, 0).Write(header);
        await raw.WriteAsync(header);
        await raw.WriteAsync(new byte[FrameHeader.MaxDataLength + 1]);
        var big = await ReadResponseAsync(raw);
        await WriteFrameAsync(raw, 7, FrameType.Request, request);
        var ok = await ReadResponseAsync(raw);

        Assert.Equal((2u, (int)IsolaErrorCode.InvalidArgument), (even.Id, even.Response.Status.Code));
        Assert.Equal((5u, (int)IsolaErrorCode.ResourceExhausted), (big.Id, big.Response.Status.Code));
        Assert.Equal((7u, 0), (ok.Id, ok.Response.Status?.Code ?? 0));
        Assert.Equal("echo:x", StringValue.Parser.ParseFrom(ok.Response.Payload).Value);
    }

    [Fact]
    public async Task Server_enforces_timeout_nano_and_answers_DeadlineExceeded()
    {
        await using var raw = await TtrpcTransport.ConnectUnixAsync(_socket.Path);
        var request = new Request
        {
            Service = Svc,
            Method = "Sleep",
            Payload = Duration.FromTimeSpan(TimeSpan.FromSeconds(30)).ToByteString(),
            TimeoutNano = 150_000_000,
        }.ToByteArray();
        var clock = Stopwatch.StartNew();

        await WriteFrameAsync(raw, 1, FrameType.Request, request);
        var (id, response) = await ReadResponseAsync(raw).WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(1u, id);
        Assert.Equal((int)IsolaErrorCode.DeadlineExceeded, response.Status.Code);
        Assert.InRange(clock.Elapsed.TotalSeconds, 0.1, 5);
    }

    [Fact]
    public async Task Server_streaming_call_opened_remote_closed_gets_data_then_the_response()
    {
        await using var client = await TtrpcClient.ConnectAsync(_socket.Path);
        await using var stream = await client.OpenStreamAsync(Svc, "Sum", ReadOnlyMemory<byte>.Empty, clientStreams: false);

        var data = await stream.ReadAsync();
        var total = Int32Value.Parser.ParseFrom((await stream.ResponseAsync()).Span).Value;

        Assert.Null(data); // the client sent nothing, so the handler's loop ended at once
        Assert.Equal(0, total);
    }

    [Fact]
    public async Task Client_uses_odd_increasing_stream_ids()
    {
        // A raw server that records the ids of the first three requests and answers them.
        using var socket = new TestSocket();
        using var listener = Listen(socket.Path);
        var ids = new List<uint>();
        var serve = Task.Run(async () =>
        {
            using var peer = await listener.AcceptAsync();
            await using var s = new NetworkStream(peer);
            for (var i = 0; i < 3; i++)
            {
                var (header, _) = await ReadFrameAsync(s);
                ids.Add(header.StreamId);
                await WriteFrameAsync(s, header.StreamId, FrameType.Response, new Response { Status = new Wire.Status() }.ToByteArray());
            }
        });
        await using var client = await TtrpcClient.ConnectAsync(socket.Path);

        for (var i = 0; i < 3; i++)
        {
            await client.CallAsync(Svc, "Echo", new Empty(), Empty.Parser);
        }

        await serve;
        Assert.Equal([1u, 3u, 5u], ids);
    }

    [Fact]
    public async Task Connection_dropped_mid_call_fails_every_pending_call_with_Unavailable()
    {
        using var socket = new TestSocket();
        using var listener = Listen(socket.Path);
        var received = new TaskCompletionSource();
        var serve = Task.Run(async () =>
        {
            using var peer = await listener.AcceptAsync();
            await using var s = new NetworkStream(peer);
            await ReadFrameAsync(s);
            await ReadFrameAsync(s);
            received.SetResult();
            // Both calls are in flight: drop the connection without answering.
        });
        await using var client = await TtrpcClient.ConnectAsync(socket.Path);

        var first = client.CallAsync(Svc, "Echo", new Empty(), Empty.Parser);
        var second = client.CallAsync(Svc, "Echo", new Empty(), Empty.Parser);
        await received.Task;
        await serve;

        var e1 = await Assert.ThrowsAsync<IsolaException>(() => first);
        var e2 = await Assert.ThrowsAsync<IsolaException>(() => second);
        var later = await Assert.ThrowsAsync<IsolaException>(() => client.CallAsync(Svc, "Echo", new Empty(), Empty.Parser));
        Assert.All([e1, e2, later], e => Assert.Equal(IsolaErrorCode.Unavailable, e.Code));
        Assert.Contains(socket.Path, e1.Message);
        Assert.False(client.IsConnected);
    }

    [Fact]
    public async Task Connecting_to_a_missing_socket_is_Unavailable_naming_it()
    {
        var path = Path.Combine(Path.GetTempPath(), "isola-ttrpc-missing-" + Guid.NewGuid().ToString("N")[..8] + ".sock");

        var e = await Assert.ThrowsAsync<IsolaException>(() => TtrpcClient.ConnectAsync("unix://" + path));

        Assert.Equal(IsolaErrorCode.Unavailable, e.Code);
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public async Task Listening_socket_is_private_to_its_owner()
    {
        var mode = File.GetUnixFileMode(_socket.Path);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, mode);
        await Task.CompletedTask;
    }

    internal static Socket Listen(string path)
    {
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen(4);
        return listener;
    }

    internal static async Task WriteFrameAsync(Stream s, uint id, FrameType type, byte[] data)
    {
        var header = new byte[FrameHeader.Size];
        new FrameHeader((uint)data.Length, id, type, 0).Write(header);
        await s.WriteAsync(header);
        await s.WriteAsync(data);
    }

    internal static async Task<(FrameHeader Header, byte[] Data)> ReadFrameAsync(Stream s)
    {
        var header = new byte[FrameHeader.Size];
        await s.ReadExactlyAsync(header);
        var h = FrameHeader.Read(header);
        var data = new byte[h.Length];
        await s.ReadExactlyAsync(data);
        return (h, data);
    }

    internal static async Task<(uint Id, Response Response)> ReadResponseAsync(Stream s)
    {
        var (h, data) = await ReadFrameAsync(s);
        Assert.Equal(FrameType.Response, h.Type);
        return (h.StreamId, Response.Parser.ParseFrom(data));
    }
}
