using Isola.Executors;
using Isola.Plugins.Shim.Controller;
using Isola.Plugins.Shim.Tests.Infrastructure;

namespace Isola.Plugins.Shim.Tests;

/// <summary>Pause sandboxes and containers on the real containerd-shim-runc-v2 and runc, with a shim per pod.</summary>
[Collection(ShimCollection.Name)]
public sealed class PodLifecyclePerPodShimTests(RootfsFixture rootfs) : PodLifecycleTests(rootfs, "Pod");

/// <summary>The same, every pod of the runtime in one shared shim (ShimGrouping Runtime).</summary>
[Collection(ShimCollection.Name)]
public sealed class PodLifecycleSharedShimTests(RootfsFixture rootfs) : PodLifecycleTests(rootfs, "Runtime");

/// <summary>Pause sandboxes and containers on the real containerd-shim-runc-v2 and runc, in either shim grouping.</summary>
public abstract class PodLifecycleTests(RootfsFixture rootfs, string grouping) : IAsyncLifetime
{
    private readonly PodHarness _pods = new(new Dictionary<string, string?> { ["ShimGrouping"] = grouping });

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _pods.DisposeAsync();

    [Fact]
    public async Task Sandbox_becomes_ready_and_runs_containers_with_output_and_exit_codes()
    {
        var sandbox = await _pods.RunSandboxAsync();

        var status = await _pods.Controller.StatusAsync(sandbox, verbose: true, CancellationToken.None);
        await using var client = await _pods.TaskClientAsync(sandbox);
        var hello = await _pods.RunToExitAsync(client, sandbox, rootfs.Dir, "echo", "hello from the pod");
        var three = await _pods.RunToExitAsync(client, sandbox, rootfs.Dir, "sh", "-c", "exit 3");

        Assert.True(status.Ready);
        Assert.True(status.Pid > 0);
        Assert.StartsWith("ttrpc+unix:///run/containerd/s/", sandbox.TaskAddress);
        Assert.Equal(2u, sandbox.TaskApiVersion);
        Assert.Equal((0u, "hello from the pod\n"), hello);
        Assert.Equal(3u, three.Exit);
        Assert.Equal("/pause", (await File.ReadAllTextAsync($"/proc/{status.Pid}/cmdline")).TrimEnd('\0'));
        await _pods.TeardownAsync(sandbox);
    }

    [Fact]
    public async Task Stdout_and_stderr_go_to_their_own_files()
    {
        var sandbox = await _pods.RunSandboxAsync();
        await using var client = await _pods.TaskClientAsync(sandbox);
        var (id, stdout, stderr) = await _pods.CreateContainerAsync(client, sandbox, rootfs.Dir, ["sh", "-c", "echo out; echo err >&2"]);

        var exit = await PodHarness.StartAndWaitAsync(client, id);
        await client.DeleteAsync(id, null, CancellationToken.None);

        Assert.Equal(0u, exit.Code);
        Assert.Equal("out\n", await File.ReadAllTextAsync(stdout));
        Assert.Equal("err\n", await File.ReadAllTextAsync(stderr));
        await _pods.TeardownAsync(sandbox);
    }

    [Fact]
    public async Task Container_shares_the_pods_network_and_uts_namespaces_and_sees_its_hostname()
    {
        var sandbox = await _pods.RunSandboxAsync(new SandboxSpec { Hostname = "pod-host-1" });
        var pausePid = (await _pods.Controller.StatusAsync(sandbox, false, CancellationToken.None)).Pid;
        await using var client = await _pods.TaskClientAsync(sandbox);

        var (exit, output) = await _pods.RunToExitAsync(client, sandbox, rootfs.Dir, "sh", "-c",
            "readlink /proc/self/ns/net; readlink /proc/self/ns/uts; readlink /proc/self/ns/pid; hostname");

        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(0u, exit);
        Assert.Equal(4, lines.Length);
        Assert.Equal(ReadLink($"/proc/{pausePid}/ns/net"), lines[0]);
        Assert.Equal(ReadLink($"/proc/{pausePid}/ns/uts"), lines[1]);
        Assert.NotEqual(ReadLink($"/proc/{pausePid}/ns/pid"), lines[2]); // its own pid namespace
        Assert.NotEqual(ReadLink("/proc/self/ns/net"), lines[0]); // a new network namespace, not the host's
        Assert.Equal("pod-host-1", lines[3]);
        await _pods.TeardownAsync(sandbox);
    }

    [Fact]
    public async Task Stop_and_shutdown_twice_leave_no_process_state_mount_cgroup_or_bundle()
    {
        var sandbox = await _pods.RunSandboxAsync();
        var socket = Leftovers.SocketOf(sandbox.TaskAddress);
        await using var client = await _pods.TaskClientAsync(sandbox);
        var (running, _, _) = await _pods.CreateContainerAsync(client, sandbox, rootfs.Dir, ["sleep", "600"]);
        await client.StartAsync(running, null, CancellationToken.None);
        var live = Leftovers.Of(sandbox, [running], socket);
        // The check sees every part of a live pod: shim and pause processes, runc state, cgroups, bundles, the shim socket.
        Assert.All(new[] { "process", "runc state", "cgroup", "bundle", "shim socket" }, kind => Assert.Contains(live, l => l.StartsWith(kind + " ", StringComparison.Ordinal)));

        await _pods.Controller.StopAsync(sandbox, TimeSpan.FromSeconds(2), CancellationToken.None);
        await _pods.Controller.StopAsync(sandbox, TimeSpan.FromSeconds(2), CancellationToken.None);
        var afterStop = await _pods.Controller.StatusAsync(sandbox, false, CancellationToken.None);
        await _pods.Controller.ShutdownAsync(sandbox, CancellationToken.None);
        await _pods.Controller.ShutdownAsync(sandbox, CancellationToken.None);

        Assert.False(afterStop.Ready);
        Assert.Empty(Leftovers.Of(sandbox, [running], socket));
    }

    [Fact]
    public async Task Killing_the_pause_ends_Wait_with_its_signal()
    {
        var sandbox = await _pods.RunSandboxAsync();
        var pid = (await _pods.Controller.StatusAsync(sandbox, false, CancellationToken.None)).Pid;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var wait = _pods.Controller.WaitAsync(sandbox, timeout.Token);

        Native.LibC.kill((int)pid, 9);
        var exit = await wait;
        var status = await _pods.Controller.StatusAsync(sandbox, false, CancellationToken.None);

        Assert.Equal(137u, exit.Code);
        Assert.False(status.Ready);
        Assert.Equal("Stopped", status.Info["status"]);
        await _pods.TeardownAsync(sandbox);
        Assert.Empty(Leftovers.Of(sandbox, [], Leftovers.SocketOf(sandbox.TaskAddress)));
    }

    [Fact]
    public async Task Killing_the_shim_reports_Unavailable_while_the_pause_runs_and_shutdown_still_cleans_everything()
    {
        var sandbox = await _pods.RunSandboxAsync();
        var socket = Leftovers.SocketOf(sandbox.TaskAddress);
        await using var client = await _pods.TaskClientAsync(sandbox);
        var (running, _, _) = await _pods.CreateContainerAsync(client, sandbox, rootfs.Dir, ["sleep", "600"]);
        await client.StartAsync(running, null, CancellationToken.None);
        int? shimPid = PodHarness.ShimPidOf(sandbox);
        Assert.True(ShimProcesses.FindBySocket(socket) == shimPid, $"shim pid {shimPid} does not serve {socket}");
        var pendingWait = client.WaitAsync(running, null, CancellationToken.None);

        await ShimProcesses.KillAsync(shimPid.Value);
        var dropped = await Assert.ThrowsAsync<IsolaException>(() => pendingWait);
        // The pause outlives its shim (runc containers do), so the pod has not exited: Unavailable, not "not ready".
        var status = await Assert.ThrowsAsync<IsolaException>(() => _pods.Controller.StatusAsync(sandbox, false, CancellationToken.None));
        var wait = await Assert.ThrowsAsync<IsolaException>(() => _pods.Controller.WaitAsync(sandbox, CancellationToken.None));
        await _pods.Controller.StopAsync(sandbox, TimeSpan.FromSeconds(2), CancellationToken.None);
        await _pods.Controller.ShutdownAsync(sandbox, CancellationToken.None);

        Assert.Equal(IsolaErrorCode.Unavailable, dropped.Code); // the connection dropped mid-call
        Assert.Equal(IsolaErrorCode.Unavailable, status.Code);
        Assert.Contains(socket, status.Message);
        Assert.Contains(sandbox.Id.Value, status.Message);
        Assert.Equal(IsolaErrorCode.Unavailable, wait.Code);
        Assert.Empty(Leftovers.Of(sandbox, [running], socket));
    }

    [Fact]
    public async Task Killing_the_shim_and_the_pause_reports_not_ready_and_Wait_NotFound()
    {
        var sandbox = await _pods.RunSandboxAsync();
        var socket = Leftovers.SocketOf(sandbox.TaskAddress);
        var pausePid = int.Parse(sandbox.ControllerData[ControllerDataKeys.PausePid], System.Globalization.CultureInfo.InvariantCulture);
        int? shimPid = PodHarness.ShimPidOf(sandbox);
        Assert.True(ShimProcesses.FindBySocket(socket) == shimPid, $"shim pid {shimPid} does not serve {socket}");

        await ShimProcesses.KillAsync(shimPid.Value);
        await ShimProcesses.KillAsync(pausePid);
        var status = await _pods.Controller.StatusAsync(sandbox, false, CancellationToken.None);
        var wait = await Assert.ThrowsAsync<IsolaException>(() => _pods.Controller.WaitAsync(sandbox, CancellationToken.None));
        await _pods.Controller.ShutdownAsync(sandbox, CancellationToken.None);

        Assert.False(status.Ready);
        Assert.Equal("shim and pause gone", status.Info["reason"]);
        Assert.Equal(IsolaErrorCode.NotFound, wait.Code);
        Assert.Empty(Leftovers.Of(sandbox, [], socket));
    }

    [Fact]
    public async Task A_new_controller_recovers_a_running_sandbox_from_its_data_and_tears_it_down()
    {
        var sandbox = await _pods.RunSandboxAsync();
        var socket = Leftovers.SocketOf(sandbox.TaskAddress);

        // A second host process: a fresh controller, handed only what the host persisted.
        await using var restarted = new PodHarness(new Dictionary<string, string?> { ["ShimGrouping"] = grouping }, stateRoot: _pods.StateRoot);
        var recovered = restarted.NewContext(sandbox.Id, sandbox.Spec, new Dictionary<string, string>(sandbox.ControllerData));
        var status = await restarted.Controller.StatusAsync(recovered, false, CancellationToken.None);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var wait = restarted.Controller.WaitAsync(recovered, cts.Token);
        await restarted.Controller.StopAsync(recovered, TimeSpan.FromSeconds(5), CancellationToken.None);
        var exit = await wait;
        await restarted.Controller.ShutdownAsync(recovered, CancellationToken.None);

        Assert.True(status.Ready);
        Assert.Equal(0u, exit.Code); // pause exits 0 on SIGTERM
        Assert.Empty(Leftovers.Of(sandbox, [], socket));
    }

    [Fact]
    public async Task UpdateResources_changes_the_pause_cgroup_limit()
    {
        var sandbox = await _pods.RunSandboxAsync(new SandboxSpec { Resources = new LinuxResources { MemoryLimitBytes = 64 << 20 } });
        var memory = CgroupCleaner.Locations(sandbox.ControllerData[ControllerDataKeys.CgroupsPath])
            .Select(d => Path.Combine(d, "memory.limit_in_bytes")).Concat(
                CgroupCleaner.Locations(sandbox.ControllerData[ControllerDataKeys.CgroupsPath]).Select(d => Path.Combine(d, "memory.max")))
            .First(File.Exists);
        var before = (await File.ReadAllTextAsync(memory)).Trim();

        await _pods.Controller.UpdateResourcesAsync(sandbox, new Controllers.UpdateResourcesRequest(null, new LinuxResources { MemoryLimitBytes = 96 << 20 }), CancellationToken.None);

        Assert.Equal((64 << 20).ToString(), before);
        Assert.Equal((96 << 20).ToString(), (await File.ReadAllTextAsync(memory)).Trim());
        await _pods.TeardownAsync(sandbox);
    }

    private static string ReadLink(string path) => new FileInfo(path).LinkTarget ?? "";
}
