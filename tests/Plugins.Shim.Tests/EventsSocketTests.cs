using System.Net.Sockets;
using Isola.Plugins.Shim.Tests.Infrastructure;

namespace Isola.Plugins.Shim.Tests;

/// <summary>Each host (controller) serves events on its own socket, so one host never clobbers another's.</summary>
[Collection(ShimCollection.Name)]
public sealed class EventsSocketTests : IAsyncLifetime
{
    private readonly PodHarness _pods = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _pods.DisposeAsync();

    [Fact]
    public async Task A_second_host_on_the_same_state_root_neither_unlinks_nor_deletes_the_first_hosts_events_socket()
    {
        var first = _pods.Controller.Events.SocketPath;
        string second;
        await using (var other = _pods.NewController())
        {
            second = other.Events.SocketPath;
            Assert.NotEqual(first, second);
            await AssertServingAsync(first);
            await AssertServingAsync(second);
        }

        Assert.False(File.Exists(second)); // a host removes its own socket when it goes
        await AssertServingAsync(first);
    }

    private static async Task AssertServingAsync(string path)
    {
        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await probe.ConnectAsync(new UnixDomainSocketEndPoint(path));
    }
}
