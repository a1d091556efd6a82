using Isola.Plugins.Shim.Controller;
using Isola.Plugins.Shim.Tests.Infrastructure;

namespace Isola.Plugins.Shim.Tests;

/// <summary>runc keys its state by namespace and id, cgroups by path: two state roots running the same sandbox id must
/// not share either, or removing one pod kills the other.</summary>
[Collection(ShimCollection.Name)]
public sealed class StateRootIsolationTests : IAsyncLifetime
{
    // The default namespace, as a host configured with no Namespace gets.
    private static readonly Dictionary<string, string?> DefaultNamespace = new() { ["Namespace"] = null };
    private readonly PodHarness _first = new(DefaultNamespace);
    private readonly PodHarness _second = new(DefaultNamespace);

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await _first.DisposeAsync();
        await _second.DisposeAsync();
    }

    [Fact]
    public async Task The_same_sandbox_id_under_two_state_roots_gives_two_pods_and_removing_one_leaves_the_other_running()
    {
        var id = "same-" + Guid.NewGuid().ToString("N")[..8];
        var a = await _first.RunSandboxAsync(new SandboxSpec { Id = id });
        var b = await _second.RunSandboxAsync(new SandboxSpec { Id = id });
        var (aData, bData) = (new Dictionary<string, string>(a.ControllerData), new Dictionary<string, string>(b.ControllerData));

        Assert.NotEqual(aData[ControllerDataKeys.Namespace], bData[ControllerDataKeys.Namespace]);
        Assert.NotEqual(aData[ControllerDataKeys.CgroupsPath], bData[ControllerDataKeys.CgroupsPath]);
        Assert.NotEqual(aData[ControllerDataKeys.PausePid], bData[ControllerDataKeys.PausePid]);
        Assert.True((await _first.Controller.StatusAsync(a, false, CancellationToken.None)).Ready);
        Assert.True((await _second.Controller.StatusAsync(b, false, CancellationToken.None)).Ready);

        await _first.TeardownAsync(a);

        var other = await _second.Controller.StatusAsync(b, false, CancellationToken.None);
        Assert.True(other.Ready, $"the second root's pod is not ready after the first root's was removed: {string.Join(", ", other.Info)}");
        Assert.True(PauseProcess.IsAlive(uint.Parse(bData[ControllerDataKeys.PausePid]), bData[ControllerDataKeys.CgroupsPath]));
        Assert.True(Directory.Exists(Path.Combine("/run/containerd/runc", bData[ControllerDataKeys.Namespace], id)));
        Assert.All(CgroupCleaner.Locations(bData[ControllerDataKeys.CgroupsPath]), dir => Assert.True(Directory.Exists(dir), dir));
        Assert.NotNull(ShimProcesses.FindLiveShim(id, bData[ControllerDataKeys.Namespace], bData[ControllerDataKeys.ContainerdAddress]));
        Assert.False(Directory.Exists(Path.Combine("/run/containerd/runc", aData[ControllerDataKeys.Namespace], id)));

        await _second.TeardownAsync(b);
        Assert.Empty(Leftovers.Of(b, [], Leftovers.SocketOf(b.TaskAddress)));
        Assert.Empty(Leftovers.Of(a, [], Leftovers.SocketOf(a.TaskAddress)));
        // A namespace per state root would leave a directory per root under runc's root: each goes with its last pod.
        Assert.False(Directory.Exists(Path.Combine("/run/containerd/runc", aData[ControllerDataKeys.Namespace])));
        Assert.False(Directory.Exists(Path.Combine("/run/containerd/runc", bData[ControllerDataKeys.Namespace])));
    }

    [Fact]
    public async Task A_sandbox_recorded_with_another_namespace_and_cgroup_is_still_found_and_removed()
    {
        // As a sandbox started before the namespace and cgroup leaf were per state root: its record names them.
        await using var legacy = new PodHarness(new Dictionary<string, string?> { ["Namespace"] = "isola-test-legacy" }, _first.StateRoot + "-legacy");
        var id = "old-" + Guid.NewGuid().ToString("N")[..8];
        var sandbox = legacy.NewContext(id);
        await legacy.Controller.CreateAsync(sandbox, CancellationToken.None);
        sandbox.ControllerData[ControllerDataKeys.CgroupsPath] = $"{PodHarness.CgroupParent}/{id}";
        Controller.PauseBundle.Write(sandbox.ControllerData[ControllerDataKeys.Bundle], id, sandbox.Spec, id,
            sandbox.ControllerData[ControllerDataKeys.CgroupsPath], Controller.PauseRootfs.Ensure(Path.Combine(AppContext.BaseDirectory, "isola-pause")), group: null);
        await legacy.Controller.StartAsync(sandbox, CancellationToken.None);
        var recorded = new Dictionary<string, string>(sandbox.ControllerData);

        // A host of today on the same root, whose own default namespace differs, removes it from the record alone.
        await using var today = new PodHarness(DefaultNamespace, legacy.StateRoot);
        var recovered = today.NewContext(id, sandbox.Spec, new Dictionary<string, string>(recorded));
        Assert.True((await today.Controller.StatusAsync(recovered, false, CancellationToken.None)).Ready);
        await today.TeardownAsync(recovered);

        Assert.False(Directory.Exists(Path.Combine("/run/containerd/runc", "isola-test-legacy", id)));
        Assert.Empty(Leftovers.Of(recovered, [], Leftovers.SocketOf(recorded[ControllerDataKeys.Address])));
        Directory.Delete("/run/containerd/runc/isola-test-legacy"); // a configured namespace's directory stays: this test made it

    }
}
