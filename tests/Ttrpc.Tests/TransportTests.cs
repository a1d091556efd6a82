using System.Net.Sockets;
using System.Text;
using Google.Protobuf.WellKnownTypes;
using Isola.Ttrpc.Client;
using Isola.Ttrpc.Server;
using Isola.Ttrpc.Transports;

namespace Isola.Ttrpc.Tests;

/// <summary>Address parsing and the hybrid vsock handshake (Firecracker / Cloud Hypervisor's Unix-socket proxy).</summary>
public sealed class TransportTests
{
    [Fact]
    public async Task Hybrid_vsock_sends_CONNECT_port_and_then_speaks_ttrpc_on_the_same_socket()
    {
        using var socket = new TestSocket();
        using var listener = RawWire.Listen(socket.Path);
        await using var server = new TtrpcServer();
        server.AddUnary("t.S", "Echo", StringValue.Parser, (r, _) => Task.FromResult(r));
        string? handshake = null;
        var proxy = Task.Run(async () =>
        {
            var peer = await listener.AcceptAsync();
            var stream = new NetworkStream(peer, ownsSocket: true);
            handshake = await ReadLineAsync(stream);
            await stream.WriteAsync(Encoding.ASCII.GetBytes("OK 1073741824\n"));
            await server.ServeAsync(stream);
        });

        await using var client = await TtrpcClient.ConnectAsync($"ttrpc+hvsock://{socket.Path}:1024");
        var reply = await client.CallAsync("t.S", "Echo", new StringValue { Value = "through" }, StringValue.Parser);

        Assert.Equal("CONNECT 1024", handshake);
        Assert.Equal("through", reply.Value);
        await client.DisposeAsync();
        await proxy.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task Hybrid_vsock_refusal_is_Unavailable_with_the_reply()
    {
        using var socket = new TestSocket();
        using var listener = RawWire.Listen(socket.Path);
        var proxy = Task.Run(async () =>
        {
            using var peer = await listener.AcceptAsync();
            await using var stream = new NetworkStream(peer);
            await ReadLineAsync(stream);
            await stream.WriteAsync(Encoding.ASCII.GetBytes("ERR no listener\n"));
        });

        var e = await Assert.ThrowsAsync<TtrpcException>(() => TtrpcClient.ConnectAsync($"hvsock://{socket.Path}:1024"));

        Assert.Equal(TtrpcStatusCode.Unavailable, e.Code);
        Assert.Contains("ERR no listener", e.Message);
        Assert.Contains(socket.Path, e.Message);
        await proxy;
    }

    [Theory]
    [InlineData("tcp://1.2.3.4:5")]
    [InlineData("vsock://x:1024")]
    [InlineData("vsock://3")]
    [InlineData("hvsock:///tmp/a.sock")]
    [InlineData("unix://")]
    public async Task Malformed_addresses_are_InvalidArgument_naming_them(string address)
    {
        var e = await Assert.ThrowsAsync<TtrpcException>(() => TtrpcClient.ConnectAsync(address));

        Assert.Equal(TtrpcStatusCode.InvalidArgument, e.Code);
        Assert.Contains(address, e.Message);
    }

    [Fact]
    public async Task Vsock_connect_reaches_the_kernel_and_reports_the_address_when_nothing_listens()
    {
        // No guest listens on port 1 of the host's own CID here; the failure must come from connect(2) through the
        // raw AF_VSOCK socket (not from .NET refusing the address family) and name the address.
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var e = await Assert.ThrowsAnyAsync<Exception>(() => TtrpcClient.ConnectAsync("ttrpc+vsock://1:1", cancellationToken: cts.Token));

        var isola = Assert.IsType<TtrpcException>(e);
        Assert.Equal(TtrpcStatusCode.Unavailable, isola.Code);
        Assert.Contains("vsock://1:1", isola.Message);
    }

    [Fact]
    public async Task Cancelling_a_vsock_connect_aborts_it_and_leaves_no_thread_in_connect()
    {
        // No guest with CID 12345: the kernel keeps the connect pending until its timeout (2 s by default).
        using var cts = new CancellationTokenSource();
        var connect = TtrpcTransport.ConnectVsockAsync(12345, 1024, cts.Token);
        await Task.Delay(200);
        Assert.False(connect.IsCompleted, $"the kernel answered vsock://12345:1024 at once ({connect.Exception?.InnerException?.Message}); this test needs a pending connect");

        var clock = System.Diagnostics.Stopwatch.StartNew();
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => connect);

        // Well under the kernel's own 2 s timeout (so it was the cancellation that ended it), with room for a loaded machine.
        Assert.True(clock.Elapsed < TimeSpan.FromMilliseconds(1500), $"the cancelled connect took {clock.Elapsed} to end");
        // A blocking connect(2) would still hold a thread until the kernel's timeout, the descriptor open with it.
        Assert.Empty(ThreadsInConnect());
    }

    /// <summary>Threads of this process blocked in the connect system call, from /proc/self/task/*/syscall.</summary>
    private static List<string> ThreadsInConnect()
    {
        var connect = System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture switch
        {
            System.Runtime.InteropServices.Architecture.X64 => "42",
            System.Runtime.InteropServices.Architecture.Arm64 => "203",
            var other => throw new PlatformNotSupportedException($"connect(2)'s syscall number on {other}"),
        };
        var found = new List<string>();
        foreach (var task in Directory.EnumerateDirectories("/proc/self/task"))
        {
            try
            {
                var syscall = File.ReadAllText(Path.Combine(task, "syscall"));
                if (syscall.Split(' ')[0] == connect)
                {
                    found.Add($"{Path.GetFileName(task)}: {syscall.Trim()}");
                }
            }
            catch (IOException)
            {
                // The thread ended while we looked.
            }
        }

        return found;
    }

    private static async Task<string> ReadLineAsync(Stream s)
    {
        var sb = new StringBuilder();
        var b = new byte[1];
        while (await s.ReadAsync(b) == 1 && b[0] != '\n')
        {
            sb.Append((char)b[0]);
        }

        return sb.ToString();
    }
}
