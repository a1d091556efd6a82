using Isola.Controllers;
using Isola.Plugins.Shim.Controller;
using Isola.Plugins.Shim.Tests.Infrastructure;

namespace Isola.Plugins.Shim.Tests;

/// <summary>ShimGrouping Runtime on the real containerd-shim-runc-v2: one shim process for every pod of the runtime,
/// started with the first pod, ended with the last; its crash reaches every pod, and each is still cleaned up.</summary>
[Collection(ShimCollection.Name)]
public sealed class SharedShimTests(RootfsFixture rootfs) : IAsyncLifetime
{
    private static readonly Dictionary<string, string?> Shared = new() { ["ShimGrouping"] = "Runtime" };
    private readonly PodHarness _pods = new(Shared);

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _pods.DisposeAsync();

    [Fact]
    public async Task Pods_of_the_runtime_share_one_shim_process_and_run_their_containers_through_it()
    {
        var pods = new List<SandboxContext>();
        for (var i = 0; i < 3; i++)
        {
            pods.Add(await _pods.RunSandboxAsync());
        }

        var shim = PodHarness.ShimPidOf(pods[0]);
        var outputs = new List<string>();
        foreach (var pod in pods)
        {
            await using var client = await _pods.TaskClientAsync(pod);
            outputs.Add((await _pods.RunToExitAsync(client, pod, rootfs.Dir, "hostname")).Stdout);
        }

        Assert.Single(pods.Select(p => p.TaskAddress).Distinct());
        Assert.All(pods, p => Assert.Equal(shim, PodHarness.ShimPidOf(p)));
        Assert.Equal(shim, ShimProcesses.FindBySocket(Leftovers.SocketOf(pods[0].TaskAddress)));
        Assert.Single(ShimsOf(_pods));
        Assert.Equal(pods.Select(p => p.Id + "\n"), outputs); // each container ran in its own pod's uts namespace
        Assert.All(pods, p => Assert.Equal(_pods.Settings.GroupId, PauseAnnotation(p, ShimController.GroupAnnotation)));
        foreach (var pod in pods)
        {
            await _pods.TeardownAsync(pod);
        }
    }

    [Fact]
    public async Task The_shared_shim_outlives_every_pod_but_the_last_and_ends_with_it()
    {
        var first = await _pods.RunSandboxAsync();
        var second = await _pods.RunSandboxAsync();
        var shim = PodHarness.ShimPidOf(first);
        var socket = Leftovers.SocketOf(first.TaskAddress);

        await _pods.TeardownAsync(first);
        var afterFirst = await _pods.Controller.StatusAsync(second, false, CancellationToken.None);
        var aliveAfterFirst = !Leftovers.Gone(shim);
        await _pods.TeardownAsync(second);

        Assert.True(aliveAfterFirst, "the shared shim ended while a pod still used it");
        Assert.True(afterFirst.Ready);
        Assert.Empty(Leftovers.Of(first, [], null));
        Assert.True(Leftovers.Gone(shim), $"shared shim pid {shim} outlived its last pod");
        Assert.Empty(Leftovers.Of(second, [], socket));
        Assert.False(Directory.Exists(_pods.Settings.GroupDirectory), $"{_pods.Settings.GroupDirectory} left");
    }

    [Fact]
    public async Task A_SIGKILLed_shared_shim_is_seen_by_every_pod_and_each_is_stopped_and_removed_without_a_trace()
    {
        var pods = new List<SandboxContext>();
        for (var i = 0; i < 3; i++)
        {
            pods.Add(await _pods.RunSandboxAsync());
        }

        await using (var client = await _pods.TaskClientAsync(pods[0]))
        {
            var (sleeper, _, _) = await _pods.CreateContainerAsync(client, pods[0], rootfs.Dir, ["sleep", "600"]);
            await client.StartAsync(sleeper, null, CancellationToken.None);
        }

        var socket = Leftovers.SocketOf(pods[0].TaskAddress);
        await ShimProcesses.KillAsync(PodHarness.ShimPidOf(pods[0]));
        var statuses = new List<IsolaException>();
        foreach (var pod in pods)
        {
            statuses.Add(await Assert.ThrowsAsync<IsolaException>(() => _pods.Controller.StatusAsync(pod, false, CancellationToken.None)));
        }

        foreach (var pod in pods)
        {
            await _pods.TeardownAsync(pod);
        }

        // Every pod's pause outlives the shim: each reports Unavailable naming itself, so the host keeps it and retries.
        Assert.All(statuses, s => Assert.Equal(IsolaErrorCode.Unavailable, s.Code));
        Assert.All(pods.Zip(statuses), p => Assert.Contains(p.First.Id.Value, p.Second.Message));
        Assert.All(pods, p => Assert.Empty(Leftovers.Of(p, Directory.Exists(Path.Combine(p.StateDirectory, "containers"))
            ? Directory.GetDirectories(Path.Combine(p.StateDirectory, "containers")).Select(Path.GetFileName).Select(n => n!) : [], socket)));
        Assert.Empty(ShimsOf(_pods));
        Assert.False(Directory.Exists(_pods.Settings.GroupDirectory), $"{_pods.Settings.GroupDirectory} left");
    }

    [Fact]
    public async Task A_pod_started_after_the_shared_shim_died_gets_a_new_one_and_the_old_pods_still_clean_up()
    {
        var old = await _pods.RunSandboxAsync();
        var deadShim = PodHarness.ShimPidOf(old);
        await ShimProcesses.KillAsync(deadShim);

        var fresh = await _pods.RunSandboxAsync();
        var freshShim = PodHarness.ShimPidOf(fresh);
        var freshStatus = await _pods.Controller.StatusAsync(fresh, false, CancellationToken.None);
        var oldStatus = await Assert.ThrowsAsync<IsolaException>(() => _pods.Controller.StatusAsync(old, false, CancellationToken.None));
        await _pods.TeardownAsync(old);
        var freshAfter = await _pods.Controller.StatusAsync(fresh, false, CancellationToken.None);
        await _pods.TeardownAsync(fresh);

        Assert.NotEqual(deadShim, freshShim);
        Assert.Equal(old.TaskAddress, fresh.TaskAddress);
        Assert.True(freshStatus.Ready);
        // The new shim answers at the old address without the old pod's pause, which still runs: orphaned, so Pending.
        Assert.Equal(IsolaErrorCode.Unavailable, oldStatus.Code);
        Assert.Contains("serves no pause task", oldStatus.Message);
        Assert.True(freshAfter.Ready, "removing a pod of the dead shim disturbed the new one");
        Assert.Empty(Leftovers.Of(old, [], null));
        Assert.Empty(Leftovers.Of(fresh, [], Leftovers.SocketOf(fresh.TaskAddress)));
        Assert.Empty(ShimsOf(_pods));
    }

    [Fact]
    public async Task A_restarted_host_drives_the_pods_of_a_live_shared_shim_and_ends_it_with_the_last()
    {
        var pods = new List<SandboxContext> { await _pods.RunSandboxAsync(), await _pods.RunSandboxAsync() };
        var shim = PodHarness.ShimPidOf(pods[0]);
        var socket = Leftovers.SocketOf(pods[0].TaskAddress);

        // The next host process: a fresh controller on the same state root, handed only the persisted records.
        await using var restarted = new PodHarness(Shared, stateRoot: _pods.StateRoot);
        var records = pods.Select(p => restarted.NewContext(p.Id, p.Spec, new Dictionary<string, string>(p.ControllerData))).ToList();
        foreach (var (record, pod) in records.Zip(pods))
        {
            record.TaskAddress = pod.TaskAddress;
            record.TaskApiVersion = pod.TaskApiVersion;
        }

        var statuses = new List<ControllerStatus>();
        foreach (var record in records)
        {
            statuses.Add(await restarted.Controller.StatusAsync(record, false, CancellationToken.None));
        }

        await using (var client = await restarted.TaskClientAsync(records[1]))
        {
            Assert.Equal((0u, "ok\n"), await restarted.RunToExitAsync(client, records[1], rootfs.Dir, "echo", "ok"));
        }

        await restarted.TeardownAsync(records[0]);
        var aliveAfterFirst = !Leftovers.Gone(shim);
        await restarted.TeardownAsync(records[1]);

        Assert.All(statuses, s => Assert.True(s.Ready));
        Assert.True(aliveAfterFirst);
        Assert.True(Leftovers.Gone(shim), $"shared shim pid {shim} outlived its last pod");
        Assert.All(pods, p => Assert.Empty(Leftovers.Of(p, [], socket)));
    }

    [Fact]
    public async Task Ten_pods_started_and_removed_at_once_join_one_shim_which_ends_with_them()
    {
        // Concurrent `shim start`s in the group's directory, and last-pod decisions racing with each other.
        var pods = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => _pods.RunSandboxAsync()));
        var shims = pods.Select(PodHarness.ShimPidOf).Distinct().ToList();

        await Task.WhenAll(pods.Select(_pods.TeardownAsync));

        Assert.Single(shims);
        Assert.True(Leftovers.Gone(shims[0]), $"shared shim pid {shims[0]} outlived its pods");
        Assert.All(pods, p => Assert.Empty(Leftovers.Of(p, [], Leftovers.SocketOf(p.TaskAddress))));
        Assert.False(Directory.Exists(_pods.Settings.GroupDirectory), $"{_pods.Settings.GroupDirectory} left");
    }

    [Fact]
    public void An_unknown_grouping_is_refused_naming_the_option()
    {
        var e = Assert.Throws<IsolaException>(() => new PodHarness(new Dictionary<string, string?> { ["ShimGrouping"] = "Node" }));

        Assert.Equal(IsolaErrorCode.InvalidArgument, e.Code);
        Assert.Contains("ShimGrouping", e.Message);
        Assert.Contains("'Node'", e.Message);
    }

    // Live shim processes started for this harness's state root and runtime (its -address is theirs alone).
    private static List<int> ShimsOf(PodHarness pods) =>
        Directory.EnumerateDirectories("/proc").Select(Path.GetFileName).Select(n => int.TryParse(n, out var pid) ? pid : 0)
            .Where(pid => pid > 0 && ShimProcesses.IsShim(pid, pods.Settings.GroupId, PodHarness.Namespace, pods.Settings.ContainerdAddress))
            .ToList();

    private static string? PauseAnnotation(SandboxContext pod, string key) =>
        System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(pod.ControllerData[ControllerDataKeys.Bundle], "config.json")))
            !["annotations"]?[key]?.GetValue<string>();
}
