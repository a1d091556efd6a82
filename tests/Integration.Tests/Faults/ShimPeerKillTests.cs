using System.Text.Json;
using Isola.Integration.Tests.Shim;
using Isola.TestSupport;

namespace Isola.Integration.Tests.Faults;

/// <summary>The same suite's other half on the shim runtime: the peers die instead of the host (the shim, the pause,
/// both), with a container running in the pod. The next commands must say what is true and remove it all.</summary>
[Collection(FaultCollection.Name)]
public sealed class ShimPeerKillPerPodShimTests() : ShimPeerKillTests("Pod");

/// <summary>The same with the pod in a shared shim (ShimGrouping Runtime): killing "the shim" kills the shim of every pod
/// of the runtime.</summary>
[Collection(FaultCollection.Name)]
public sealed class ShimPeerKillSharedShimTests() : ShimPeerKillTests("Runtime");

public abstract class ShimPeerKillTests(string grouping) : IDisposable
{
    private readonly FaultWorld _world = FaultWorld.ForShim("peer", grouping);

    public void Dispose()
    {
        _world.Dispose();
        GC.SuppressFinalize(this);
    }

    [Theory]
    [InlineData("pause")]
    [InlineData("shim")]
    [InlineData("shim+pause")]
    public async Task A_pod_whose_peer_is_killed_is_reported_truly_and_removed_without_a_trace(string victims)
    {
        var id = "pk" + Guid.NewGuid().ToString("N")[..14];
        await _world.MustAsync("sandbox", "run", "--id", id);
        await _world.MustAsync("container", "run", id, "--rootfs", _world.Rootfs, "--id", id + "-c", "-d", "--", "sleep", "1000");
        var sockets = _world.SocketsOf(id);
        var sandbox = Find(await _world.ListAsync(), id);
        var pause = sandbox.GetProperty("pid").GetUInt32();
        var container = sandbox.GetProperty("containers")[0].GetProperty("pid").GetUInt32();
        var shimId = _world.SharedShim?.Id ?? id;
        var shim = ShimHost.ProcessWhere(c => c.Contains("containerd-shim", StringComparison.Ordinal) && c.Contains($"-id {shimId} ", StringComparison.Ordinal),
            $"the shim of {id}");

        var killed = new List<uint>();
        if (victims.Contains("shim", StringComparison.Ordinal))
        {
            Assert.Equal(0, ShimHost.Kill(shim, 9));
            killed.Add((uint)shim);
        }

        if (victims.Contains("pause", StringComparison.Ordinal))
        {
            Assert.Equal(0, ShimHost.Kill((int)pause, 9));
            killed.Add(pause);
        }

        for (var i = 0; i < 300 && killed.Any(p => Processes.IsRunning(p)); i++)
        {
            await Task.Delay(10);
        }

        var listing = await _world.ListAsync();
        FaultWorld.AssertTruthful(listing, id);
        var state = Find(listing, id).GetProperty("state").GetString();
        if (victims == "shim")
        {
            // The pod runs on without its shim: Pending (its controller cannot be reached), not Stopped.
            Assert.Equal("Pending", state);
            Assert.True(Processes.IsRunning(pause));
        }
        else
        {
            // A pod whose pause died is Stopped, and no container outlives it.
            Assert.Equal("Stopped", state);
            Assert.False(Processes.IsRunning(container), $"container pid {container} outlived its stopped sandbox");
        }

        await _world.MustAsync("sandbox", "rm", id);
        Assert.Empty(await _world.ListAsync());
        var left = _world.Leftovers(id, sockets);
        Assert.True(left.Count == 0, $"left behind by sandbox {id}:\n{string.Join('\n', left)}");
    }

    private static JsonElement Find(List<JsonElement> listing, string id) => listing.Single(s => s.GetProperty("id").GetString() == id);
}
