using System.Diagnostics;
using System.Net.Sockets;
using Isola.Plugins.Shim.Controller;
using Isola.Plugins.Shim.Events;
using Isola.Plugins.Shim.Tests.Infrastructure;

namespace Isola.Plugins.Shim.Tests;

/// <summary>
/// The events endpoint (TTRPC_ADDRESS) of a state root: always there for a shim, live or refusing at once, whichever
/// host started the shim and whether it still runs; never stolen from a live host; gone with the last shim.
/// </summary>
[Collection(ShimCollection.Name)]
public sealed class EventsSocketTests
{
    private static readonly Dictionary<string, string?> Serving = new() { ["ServeEvents"] = "true" };

    [Fact]
    public async Task A_host_that_does_not_serve_events_leaves_a_socket_that_refuses_at_once_and_it_goes_with_the_last_shim()
    {
        string endpoint;
        await using (var pods = new PodHarness())
        {
            var sandbox = await pods.RunSandboxAsync();
            endpoint = pods.Controller.EventsEndpoint.Path;
            var shim = ShimProcesses.FindLiveShim(sandbox.Id.Value, PodHarness.Namespace, sandbox.ControllerData[ControllerDataKeys.ContainerdAddress]);

            Assert.Equal(sandbox.ControllerData[ControllerDataKeys.ContainerdAddress] + ".ttrpc", endpoint);
            Assert.Contains($"TTRPC_ADDRESS={endpoint}", (await File.ReadAllTextAsync($"/proc/{shim}/environ")).Split('\0'));
            Assert.Equal(SocketError.ConnectionRefused, ConnectError(endpoint));
            Assert.Empty(Directory.GetFiles(ShimControllerFactory.EventsDirectory, $"events-{Environment.ProcessId}-*"));

            await pods.TeardownAsync(sandbox);
            Assert.True(File.Exists(endpoint)); // until the host goes: it may start another shim
        }

        Assert.False(File.Exists(endpoint), $"{endpoint} outlived the host and every shim");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_shim_exits_by_itself_within_a_second_of_Shutdown_once_the_host_that_started_it_is_gone(bool serving)
    {
        await using var pods = new PodHarness(serving ? Serving : null);
        var sandbox = await pods.RunSandboxAsync();
        var shim = ShimProcesses.FindLiveShim(sandbox.Id.Value, PodHarness.Namespace, sandbox.ControllerData[ControllerDataKeys.ContainerdAddress]);
        Assert.NotNull(shim);
        await pods.Controller.DisposeAsync(); // what the starting process's exit does to the endpoint
        Assert.True(File.Exists(pods.Controller.EventsEndpoint.Path), "the endpoint of a live shim was removed");

        // A later host process (`isola sandbox rm`) removes the pod. The shim drains its events on Shutdown: each must
        // fail fast, or it exits only when the host's patience runs out and it gets SIGKILL (after 2 s).
        await using var later = pods.NewController();
        await later.StopAsync(sandbox, TimeSpan.FromSeconds(5), CancellationToken.None);
        var clock = Stopwatch.StartNew();
        await later.ShutdownAsync(sandbox, CancellationToken.None);
        clock.Stop();

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1), $"Shutdown took {clock.ElapsedMilliseconds} ms");
        Assert.True(Leftovers.Gone(shim.Value), $"shim pid {shim} still runs");
        Assert.Empty(Leftovers.Of(sandbox, [], Leftovers.SocketOf(sandbox.TaskAddress)));
    }

    [Fact]
    public async Task A_second_host_neither_takes_over_nor_removes_the_endpoint_a_live_host_serves()
    {
        await using var pods = new PodHarness(Serving);
        var first = pods.Controller.Events;
        Assert.NotNull(first);
        var sandbox = await pods.RunSandboxAsync();

        await using (var second = pods.NewController())
        {
            Assert.Null(second.Events); // the first still serves
            await second.StopAsync(sandbox, TimeSpan.FromSeconds(5), CancellationToken.None);
            await second.ShutdownAsync(sandbox, CancellationToken.None);
        }

        Assert.True(ShimEventsServer.IsLive(first.SocketPath), "the second host's teardown and exit broke the first's endpoint");
        var received = first.Received;
        var again = await pods.RunSandboxAsync(); // its shim publishes create and start to the first host
        for (var i = 0; i < 100 && first.Received == received; i++)
        {
            await Task.Delay(20);
        }

        Assert.True(first.Received > received, "the first host no longer hears shims");
        await pods.TeardownAsync(again);
    }

    [Fact]
    public async Task Hosts_racing_to_serve_leave_one_live_endpoint_and_after_the_last_goes_nothing()
    {
        await using var pods = new PodHarness();
        var path = pods.Controller.EventsEndpoint.Path;
        var hosts = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() => new PodHarness(Serving, pods.StateRoot).Controller)));

        Assert.True(ShimEventsServer.IsLive(path)); // the last rename won; the path never went missing
        foreach (var host in hosts)
        {
            _ = host.Events; // a host that lost the race finds a live endpoint, or takes it over once its server went
            Assert.True(ShimEventsServer.IsLive(path));
            await host.DisposeAsync();
        }

        Assert.False(File.Exists(path), $"{path} left after every host went");
    }

    [Fact]
    public async Task Sockets_left_by_earlier_versions_go_once_their_process_is_gone_and_no_shim_uses_them()
    {
        var dead = Path.Combine(ShimControllerFactory.EventsDirectory, $"events-{DeadPid()}-0badc0de.sock");
        var alive = Path.Combine(ShimControllerFactory.EventsDirectory, $"events-{Environment.ProcessId}-0badc0de.sock");
        Directory.CreateDirectory(ShimControllerFactory.EventsDirectory);
        EventsEndpoint.CreateIfMissing(dead);
        EventsEndpoint.CreateIfMissing(alive);
        Assert.True(File.Exists(dead) && File.Exists(alive));

        try
        {
            await using (var pods = new PodHarness())
            {
                await pods.TeardownAsync(await pods.RunSandboxAsync());
            }

            Assert.False(File.Exists(dead), $"{dead} was not swept");
            Assert.True(File.Exists(alive), $"{alive}, of a live process, was swept");
        }
        finally
        {
            File.Delete(dead);
            File.Delete(alive);
        }
    }

    [Fact]
    public async Task A_host_going_away_sweeps_what_the_last_host_of_another_state_root_could_not()
    {
        // Left when that host's exclusive lock lost to a stream of launches: a dead, unused endpoint and an empty
        // default-namespace directory. A configured namespace's directory is not this host family's to remove.
        var tag = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(8));
        var endpoint = Path.Combine(ShimControllerFactory.EventsDirectory, tag + ".sock.ttrpc");
        var ns = Path.Combine("/run/containerd/runc", ShimControllerFactory.DefaultNamespace(tag[..12]));
        var configured = Path.Combine("/run/containerd/runc", "isola-test-configured-" + tag[..6]);
        Directory.CreateDirectory(ShimControllerFactory.EventsDirectory);
        EventsEndpoint.CreateIfMissing(endpoint);
        Directory.CreateDirectory(ns);
        Directory.CreateDirectory(configured);
        try
        {
            await using (var pods = new PodHarness())
            {
                await pods.TeardownAsync(await pods.RunSandboxAsync());
            }

            Assert.False(File.Exists(endpoint), $"{endpoint} was not swept");
            Assert.False(Directory.Exists(ns), $"{ns} was not swept");
            Assert.True(Directory.Exists(configured));
        }
        finally
        {
            File.Delete(endpoint);
            foreach (var dir in new[] { ns, configured }.Where(Directory.Exists))
            {
                Directory.Delete(dir);
            }
        }
    }

    private static SocketError? ConnectError(string path)
    {
        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            probe.Connect(new UnixDomainSocketEndPoint(path));
            return null;
        }
        catch (SocketException e)
        {
            return e.SocketErrorCode;
        }
    }

    private static int DeadPid()
    {
        using var exited = Process.Start("true")!;
        exited.WaitForExit();
        return exited.Id;
    }
}
