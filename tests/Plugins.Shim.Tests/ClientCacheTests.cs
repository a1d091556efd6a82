using Isola.Controllers;
using Isola.Plugins.Shim.Controller;
using Isola.Plugins.Shim.Tests.Infrastructure;

namespace Isola.Plugins.Shim.Tests;

/// <summary>The controller keeps exactly one Task API connection per shim, however many calls race to open it.</summary>
[Collection(ShimCollection.Name)]
public sealed class ClientCacheTests(RootfsFixture rootfs) : IAsyncLifetime
{
    private readonly PodHarness _pods = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _pods.DisposeAsync();

    [Fact]
    public async Task Concurrent_first_calls_share_one_connection_and_a_lost_one_is_replaced()
    {
        _ = rootfs;
        var sandbox = await _pods.RunSandboxAsync();
        var shimPid = int.Parse(sandbox.ControllerData[ControllerDataKeys.ShimPid], System.Globalization.CultureInfo.InvariantCulture);
        var address = sandbox.ControllerData[ControllerDataKeys.Address];
        var socket = address[(address.IndexOf("unix://", StringComparison.Ordinal) + 7)..];
        var before = TaskApiConnections(shimPid, socket);

        // A second host process: no cached connection, sixteen calls racing to make the first one.
        var restarted = _pods.NewController();
        await using (restarted)
        {
            var recovered = new SandboxContext(sandbox.Id, sandbox.Name, sandbox.Spec, sandbox.StateDirectory,
                new Dictionary<string, string>(sandbox.ControllerData));
            using var go = new ManualResetEventSlim();
            var calls = Enumerable.Range(0, 16).Select(_ => Task.Run(async () =>
            {
                go.Wait();
                return await restarted.StatusAsync(recovered, false, CancellationToken.None);
            })).ToList();
            go.Set();
            var statuses = await Task.WhenAll(calls);

            Assert.All(statuses, s => Assert.True(s.Ready));
            Assert.Equal(before + 1, await SettledConnectionsAsync(shimPid, socket, before + 1));
        }

        // Disposing the controller closes its one connection: nothing leaked.
        Assert.Equal(before, await SettledConnectionsAsync(shimPid, socket, before));
        await _pods.TeardownAsync(sandbox);
    }

    // Connections accepted on the shim's Task API socket: the shim's socket fds whose /proc/net/unix entry carries the
    // socket's path and is connected (St 03), which leaves out its listener and its own outgoing connections (the
    // events it publishes), whose number varies on their own.
    private static int TaskApiConnections(int pid, string socketPath)
    {
        var accepted = File.ReadLines("/proc/net/unix").Skip(1)
            .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(f => f.Length >= 8 && f[7] == socketPath && f[5] == "03")
            .Select(f => "socket:[" + f[6] + "]")
            .ToHashSet(StringComparer.Ordinal);
        return Directory.EnumerateFiles($"/proc/{pid}/fd").Count(fd =>
        {
            try
            {
                return new FileInfo(fd).LinkTarget is { } target && accepted.Contains(target);
            }
            catch (IOException)
            {
                return false;
            }
        });
    }

    // The shim closes a connection's fd a moment after the peer closes it.
    private static async Task<int> SettledConnectionsAsync(int pid, string socketPath, int expected)
    {
        var count = TaskApiConnections(pid, socketPath);
        for (var i = 0; i < 100 && count != expected; i++)
        {
            await Task.Delay(20);
            count = TaskApiConnections(pid, socketPath);
        }

        return count;
    }
}
