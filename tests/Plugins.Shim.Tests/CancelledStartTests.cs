using System.Globalization;
using Isola.Plugins.Shim.Controller;
using Isola.Plugins.Shim.Launcher;
using Isola.Plugins.Shim.Tests.Infrastructure;

namespace Isola.Plugins.Shim.Tests;

/// <summary>A Start cancelled while `shim start` runs leaves no process, shim or socket once rolled back.</summary>
[Collection(ShimCollection.Name)]
public sealed class CancelledStartTests : IAsyncLifetime
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "isola-shimcancel-" + Guid.NewGuid().ToString("N")[..10]);
    private PodHarness _pods = null!;

    public Task InitializeAsync()
    {
        Directory.CreateDirectory(_dir);
        // The real shim binary, then a slow tail (a child of the launcher, as the forked shim is while `start` runs):
        // cancelling must end the whole process tree, and rollback must find the shim that start already launched.
        var wrapper = Path.Combine(_dir, "slow-shim");
        File.WriteAllText(wrapper, $$"""
            #!/bin/sh
            containerd-shim-runc-v2 "$@" || exit $?
            for last; do :; done
            [ "$last" = start ] || exit 0
            sleep 30 &
            echo $! > {{_dir}}/child.pid
            wait
            """);
        File.SetUnixFileMode(wrapper, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        _pods = new PodHarness(new Dictionary<string, string?> { ["ShimBinary"] = wrapper });
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _pods.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task Cancelled_start_kills_the_launcher_tree_and_shutdown_removes_the_shim_and_its_socket()
    {
        var sandbox = _pods.NewContext();
        await _pods.Controller.CreateAsync(sandbox, CancellationToken.None);
        var bundle = sandbox.ControllerData[ControllerDataKeys.Bundle];
        using var cancel = new CancellationTokenSource();
        var start = _pods.Controller.StartAsync(sandbox, cancel.Token);
        var childFile = Path.Combine(_dir, "child.pid");
        for (var i = 0; i < 200 && !File.Exists(childFile); i++)
        {
            await Task.Delay(25);
        }

        await Task.Delay(50); // the echo has finished writing
        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => start);
        var child = int.Parse(File.ReadAllText(childFile).Trim(), CultureInfo.InvariantCulture);
        var socket = Leftovers.SocketOf(ShimLauncher.ReadBundleFile(bundle, ShimLauncher.AddressFile)!);
        var childGone = await GoneAsync(child);
        var shimPid = ShimProcesses.FindLiveShim(sandbox.Id.Value, PodHarness.Namespace, sandbox.ControllerData[ControllerDataKeys.ContainerdAddress]);
        Assert.NotNull(shimPid); // start had launched it: only rollback can end it
        Assert.Equal(shimPid, ShimProcesses.FindBySocket(socket)); // found through its socket, not only by a scan

        await _pods.Controller.ShutdownAsync(sandbox, CancellationToken.None);

        Assert.True(childGone, $"pid {child}, a child of the cancelled launcher, still runs");
        Assert.True(await GoneAsync(shimPid.Value), $"shim pid {shimPid} survived the rollback");
        Assert.False(File.Exists(socket), $"shim socket {socket} left behind");
        Assert.Empty(Leftovers.Of(sandbox, [], socket));
    }

    private static async Task<bool> GoneAsync(int pid)
    {
        for (var i = 0; i < 100; i++)
        {
            try
            {
                var stat = await File.ReadAllTextAsync($"/proc/{pid}/stat");
                if (stat[(stat.LastIndexOf(')') + 2)..].StartsWith('Z'))
                {
                    return true;
                }
            }
            catch (IOException)
            {
                return true;
            }

            await Task.Delay(20);
        }

        return false;
    }
}
