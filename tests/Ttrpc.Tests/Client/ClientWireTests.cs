using System.Diagnostics;
using System.Net.Sockets;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Isola.Ttrpc.Client;
using Isola.Ttrpc.Framing;
using Isola.Ttrpc.Server;
using Isola.Ttrpc.Transports;
using Isola.Ttrpc.Wire;

namespace Isola.Ttrpc.Tests.Client;

/// <summary>The client against raw peers that record or drop its frames.</summary>
public sealed class ClientWireTests
{
    private const string Svc = "isola.test.v1.Echo";

    [Fact]
    public async Task Client_uses_odd_stream_ids_increasing_by_two_from_a_random_start()
    {
        // A raw server that records the ids of the first three requests and answers them.
        using var socket = new TestSocket();
        using var listener = RawWire.Listen(socket.Path);
        var ids = new List<uint>();
        var serve = Task.Run(async () =>
        {
            using var peer = await listener.AcceptAsync();
            await using var s = new NetworkStream(peer);
            for (var i = 0; i < 3; i++)
            {
                var (header, _) = await RawWire.ReadFrameAsync(s);
                ids.Add(header.StreamId);
                await RawWire.WriteFrameAsync(s, header.StreamId, FrameType.Response, new Response { Status = new Wire.Status() }.ToByteArray());
            }
        });
        await using var client = await TtrpcClient.ConnectAsync(socket.Path);

        for (var i = 0; i < 3; i++)
        {
            await client.CallAsync(Svc, "Echo", new Empty(), Empty.Parser);
        }

        await serve;
        Assert.Equal(1u, ids[0] % 2);
        Assert.Equal([ids[0], ids[0] + 2, ids[0] + 4], ids);
    }

    [Fact]
    public async Task Each_connection_starts_its_stream_ids_elsewhere()
    {
        // Over a link that cannot tell one connection from the next (a VM's virtio-serial port), a late answer to the
        // previous connection's call must not match one of this connection's.
        var firsts = new HashSet<uint>();
        for (var i = 0; i < 4; i++)
        {
            using var socket = new TestSocket();
            using var listener = RawWire.Listen(socket.Path);
            var serve = Task.Run(async () =>
            {
                using var peer = await listener.AcceptAsync();
                await using var s = new NetworkStream(peer);
                var (header, _) = await RawWire.ReadFrameAsync(s);
                await RawWire.WriteFrameAsync(s, header.StreamId, FrameType.Response, new Response { Status = new Wire.Status() }.ToByteArray());
                return header.StreamId;
            });
            await using var client = await TtrpcClient.ConnectAsync(socket.Path);
            await client.CallAsync(Svc, "Echo", new Empty(), Empty.Parser);
            firsts.Add(await serve);
        }

        Assert.True(firsts.Count >= 3, $"first stream ids: {string.Join(", ", firsts)}");
    }

    [Fact]
    public async Task Connection_dropped_mid_call_fails_every_pending_call_with_Unavailable()
    {
        using var socket = new TestSocket();
        using var listener = RawWire.Listen(socket.Path);
        var received = new TaskCompletionSource();
        var serve = Task.Run(async () =>
        {
            using var peer = await listener.AcceptAsync();
            await using var s = new NetworkStream(peer);
            await RawWire.ReadFrameAsync(s);
            await RawWire.ReadFrameAsync(s);
            received.SetResult();
            // Both calls are in flight: drop the connection without answering.
        });
        await using var client = await TtrpcClient.ConnectAsync(socket.Path);

        var first = client.CallAsync(Svc, "Echo", new Empty(), Empty.Parser);
        var second = client.CallAsync(Svc, "Echo", new Empty(), Empty.Parser);
        await received.Task;
        await serve;

        var e1 = await Assert.ThrowsAsync<TtrpcException>(() => first);
        var e2 = await Assert.ThrowsAsync<TtrpcException>(() => second);
        var later = await Assert.ThrowsAsync<TtrpcException>(() => client.CallAsync(Svc, "Echo", new Empty(), Empty.Parser));
        Assert.All([e1, e2, later], e => Assert.Equal(TtrpcStatusCode.Unavailable, e.Code));
        Assert.Contains(socket.Path, e1.Message);
        Assert.False(client.IsConnected);
    }

    [Fact]
    public async Task Connecting_to_a_missing_socket_is_Unavailable_naming_it()
    {
        var path = Path.Combine(Path.GetTempPath(), "isola-ttrpc-missing-" + Guid.NewGuid().ToString("N")[..8] + ".sock");

        var e = await Assert.ThrowsAsync<TtrpcException>(() => TtrpcClient.ConnectAsync("unix://" + path));

        Assert.Equal(TtrpcStatusCode.Unavailable, e.Code);
        Assert.Contains(path, e.Message);
    }
}
