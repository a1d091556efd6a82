using System.Net.Sockets;
using Isola.Agent.Guest;
using Isola.Agent.Native;
using Isola.TaskApi.Protos.Sandbox;
using Isola.Ttrpc.Client;
using Isola.Ttrpc.Server;

namespace Isola.Agent.Tests;

/// <summary>The guest serves ttrpc over a raw descriptor (the virtio-serial port) through <see cref="FdStream"/>; here the
/// descriptor is one end of a connected Unix socket, which behaves the same for reading, writing and the peer leaving.</summary>
public sealed class FdStreamTests
{
    [Fact]
    public async Task Ttrpc_is_served_over_a_descriptor_with_concurrent_calls_and_ends_when_the_peer_leaves()
    {
        var path = Path.Combine(Path.GetTempPath(), $"isola-fd-{Guid.NewGuid():N}"[..24] + ".sock");
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen(1);
        var client = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await client.ConnectAsync(new UnixDomainSocketEndPoint(path));
        using var accepted = await listener.AcceptAsync();
        File.Delete(path);
        var fd = LibC.dup((int)accepted.SafeHandle.DangerousGetHandle());
        Assert.True(fd >= 0);

        var release = new TaskCompletionSource();
        await using var server = new TtrpcServer();
        server.AddUnary("test.Blocking", "Hold", CheckRequest.Parser, async (_, _) =>
        {
            await release.Task;
            return new CheckResponse();
        });
        server.AddUnary("grpc.SandboxService", "Check", CheckRequest.Parser, (_, _) => Task.FromResult(new CheckResponse()));
        var serving = server.ServeAsync(new FdStream(fd), "fd");

        await using var ttrpc = new TtrpcClient(new NetworkStream(client, ownsSocket: true), "fd", new TtrpcClientOptions { DefaultTimeout = TimeSpan.FromSeconds(10) });
        var held = ttrpc.CallAsync("test.Blocking", "Hold", new CheckRequest(), CheckResponse.Parser);
        // While one call is pending (and the server's read loop waits for the next frame), others are answered.
        for (var i = 0; i < 5; i++)
        {
            await ttrpc.CallAsync("grpc.SandboxService", "Check", new CheckRequest(), CheckResponse.Parser);
        }

        Assert.False(held.IsCompleted);
        release.SetResult();
        await held;

        await ttrpc.DisposeAsync();
        await serving.WaitAsync(TimeSpan.FromSeconds(10));
    }
}
