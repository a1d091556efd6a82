using Isola.Plugins.Shim.Tests.Infrastructure;

namespace Isola.Plugins.Shim.Tests;

/// <summary>What the controller keeps of a running shim besides its tasks: its log, and the events it publishes.</summary>
[Collection(ShimCollection.Name)]
public sealed class ShimLogAndEventsTests(RootfsFixture rootfs) : IAsyncLifetime
{
    private readonly PodHarness _pods = new();
    private Controllers.SandboxContext _sandbox = null!;

    public async Task InitializeAsync() => _sandbox = await _pods.RunSandboxAsync();

    public async Task DisposeAsync()
    {
        await _pods.TeardownAsync(_sandbox);
        await _pods.DisposeAsync();
    }

    [Fact]
    public async Task Shim_log_fifo_is_drained_into_the_sandbox_log_file()
    {
        var log = Path.Combine(_sandbox.StateDirectory, "shim.log");
        for (var i = 0; i < 40 && !(File.Exists(log) && (await File.ReadAllTextAsync(log)).Contains("starting signal loop")); i++)
        {
            await Task.Delay(100);
        }

        Assert.Contains("starting signal loop", await File.ReadAllTextAsync(log)); // the shim's own first log line
        Assert.Equal(UnixFileMode.None, File.GetUnixFileMode(Path.Combine(_sandbox.ControllerData[Controller.ControllerDataKeys.Bundle], "log"))
            & (UnixFileMode.GroupWrite | UnixFileMode.OtherWrite | UnixFileMode.OtherRead));
    }

    [Fact]
    public async Task A_host_that_serves_events_hears_a_shim_started_before_it_served_them()
    {
        // The shim was started (by InitializeAsync) while nobody served the endpoint; it publishes to the same stable
        // path all along, so a host that serves it later hears the shim's next events.
        var events = _pods.Controller.Events!;
        var before = events.Received;
        await using var client = await _pods.TaskClientAsync(_sandbox);
        var (id, _, _) = await _pods.CreateContainerAsync(client, _sandbox, rootfs.Dir, ["sh", "-c", "exit 7"]);
        var exit = await PodHarness.StartAndWaitAsync(client, id);
        await client.DeleteAsync(id, null, CancellationToken.None);
        // create, start, exit and delete of the container: the shim publishes them as they happen, a few at a time
        for (var i = 0; i < 100 && events.Received - before < 4; i++)
        {
            await Task.Delay(50);
        }

        Assert.Equal(7u, exit.Code);
        Assert.Equal(_sandbox.ControllerData[Controller.ControllerDataKeys.ContainerdAddress] + ".ttrpc", events.SocketPath);
        Assert.True(events.Received - before >= 4, $"{events.Received - before} events received");
    }
}
