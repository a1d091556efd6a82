using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Isola.Ttrpc.Client;
using Isola.Ttrpc.Framing;
using Isola.Ttrpc.Server;
using Isola.Ttrpc.Transports;
using Isola.Ttrpc.Wire;

namespace Isola.Ttrpc.Tests.Server;

/// <summary>The server against malformed input and unwanted peers, and how its socket comes into being.</summary>
public sealed class ServerHardeningTests : IDisposable
{
    private const string Svc = "isola.test.v1.Echo";
    private readonly TestSocket _socket = new();

    public void Dispose() => _socket.Dispose();

    [Fact]
    public async Task A_malformed_request_gets_InvalidArgument_on_its_stream_and_the_connection_keeps_working()
    {
        await using var server = EchoServer();
        server.ListenUnix(_socket.Path);
        await using var raw = await TtrpcTransport.ConnectUnixAsync(_socket.Path);
        var good = new Request { Service = Svc, Method = "Echo", Payload = new StringValue { Value = "x" }.ToByteString() }.ToByteArray();

        await RawWire.WriteFrameAsync(raw, 1, FrameType.Request, [0x0a, 0xff, 0x01]); // field 1, length 255, 1 byte
        var bad = await RawWire.ReadResponseAsync(raw);
        await RawWire.WriteFrameAsync(raw, 3, FrameType.Request, good);
        var ok = await RawWire.ReadResponseAsync(raw);

        Assert.Equal((1u, (int)TtrpcStatusCode.InvalidArgument), (bad.Id, bad.Response.Status.Code));
        Assert.Contains("malformed ttrpc request", bad.Response.Status.Message);
        Assert.Equal((3u, 0), (ok.Id, ok.Response.Status?.Code ?? 0));
    }

    [Fact]
    public async Task Replace_and_keep_takes_over_a_live_socket_path_and_leaves_a_refusing_file_on_dispose()
    {
        await using var first = EchoServer();
        first.ListenUnix(_socket.Path);
        var second = EchoServer();
        second.ListenUnix(_socket.Path, UnixSocketTakeover.ReplaceAndKeep);
        Assert.True(TtrpcServer.IsListening(_socket.Path));

        await second.DisposeAsync();
        // The path never went missing and stays: a client dialling it now is refused at once, not left retrying.
        Assert.True(File.Exists(_socket.Path));
        Assert.False(TtrpcServer.IsListening(_socket.Path));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(_socket.Path));
    }

    [Fact]
    public async Task A_malformed_request_payload_is_InvalidArgument()
    {
        await using var server = EchoServer();
        server.ListenUnix(_socket.Path);
        await using var raw = await TtrpcTransport.ConnectUnixAsync(_socket.Path);
        var request = new Request { Service = Svc, Method = "Echo", Payload = ByteString.CopyFrom(0x0a, 0x7f) }.ToByteArray();

        await RawWire.WriteFrameAsync(raw, 1, FrameType.Request, request);
        var bad = await RawWire.ReadResponseAsync(raw);

        Assert.Equal((int)TtrpcStatusCode.InvalidArgument, bad.Response.Status.Code);
    }

    [Fact]
    public async Task A_peer_with_another_uid_is_disconnected_before_any_call()
    {
        // Tests run as root; a server that only admits uid 4242 must turn this process away through SO_PEERCRED.
        await using var server = new TtrpcServer { RequiredPeerUid = 4242 };
        server.AddUnary(Svc, "Echo", StringValue.Parser, (req, _) => Task.FromResult(req));
        server.ListenUnix(_socket.Path);
        await using var client = await TtrpcClient.ConnectAsync("unix://" + _socket.Path);

        var e = await Assert.ThrowsAsync<TtrpcException>(() =>
            client.CallAsync(Svc, "Echo", new StringValue { Value = "x" }, StringValue.Parser));

        Assert.Equal(TtrpcStatusCode.Unavailable, e.Code);
    }

    [Fact]
    public async Task The_same_user_is_admitted_by_default()
    {
        await using var server = EchoServer();
        server.ListenUnix(_socket.Path);
        await using var client = await TtrpcClient.ConnectAsync("unix://" + _socket.Path);

        var reply = await client.CallAsync(Svc, "Echo", new StringValue { Value = "x" }, StringValue.Parser);

        Assert.True(server.RequireSameUser);
        Assert.Equal("x", reply.Value);
    }

    [Fact]
    public async Task The_socket_appears_at_its_path_already_0600_and_no_staging_is_left()
    {
        // A mode change at the final path would mean the socket was reachable there with a looser mode first.
        var events = new List<string>();
        using var watcher = new FileSystemWatcher(_socket.Dir)
        {
            NotifyFilter = NotifyFilters.Attributes | NotifyFilters.Security | NotifyFilters.FileName,
        };
        watcher.Changed += (_, e) => { lock (events) { events.Add("changed " + e.Name); } };
        watcher.Created += (_, e) => { lock (events) { events.Add("created " + e.Name); } };
        watcher.Renamed += (_, e) => { lock (events) { events.Add("renamed " + e.Name); } };
        watcher.EnableRaisingEvents = true;
        await using var server = EchoServer();

        server.ListenUnix(_socket.Path);
        var name = Path.GetFileName(_socket.Path);
        for (var i = 0; i < 100 && !Seen(events, name); i++)
        {
            await Task.Delay(10);
        }

        await Task.Delay(100); // any attribute change would follow the creation
        lock (events)
        {
            Assert.True(Seen(events, name), "the watcher saw nothing: " + string.Join(", ", events));
            Assert.DoesNotContain("changed " + name, events);
        }

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(_socket.Path));
        Assert.Equal([_socket.Path], Directory.GetFileSystemEntries(_socket.Dir));
    }

    private static bool Seen(List<string> events, string name)
    {
        lock (events)
        {
            return events.Contains("created " + name) || events.Contains("renamed " + name);
        }
    }

    private static TtrpcServer EchoServer()
    {
        var server = new TtrpcServer();
        server.AddUnary(Svc, "Echo", StringValue.Parser, (req, _) => Task.FromResult(new StringValue { Value = req.Value }));
        return server;
    }
}
