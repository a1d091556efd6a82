namespace Isola.Integration.Tests.Shim;

/// <summary>Pause sandboxes through IsolaHost with a shim per pod.</summary>
public sealed class ShimSandboxPerPodShimTests() : ShimSandboxTests("Pod");

/// <summary>Pause sandboxes through IsolaHost with every pod in one shared shim (ShimGrouping Runtime).</summary>
public sealed class ShimSandboxSharedShimTests() : ShimSandboxTests("Runtime");

/// <summary>Pause sandboxes through IsolaHost with the shim plugin loaded from the plugins folder, on the real
/// containerd-shim-runc-v2 and runc.</summary>
public abstract class ShimSandboxTests(string grouping) : IAsyncLifetime
{
    private ShimHost _host = null!;

    public async Task InitializeAsync() => _host = await ShimHost.StartAsync(grouping: grouping);

    public async Task DisposeAsync() => await _host.DisposeAsync();

    [Fact]
    public async Task Pod_runs_a_busybox_container_whose_output_and_exit_codes_reach_the_caller()
    {
        var sandbox = await _host.Host.Sandboxes.RunAsync(new SandboxSpec { Name = "hello-pod" });

        var hello = await sandbox.Containers.RunAsync(new ContainerSpec { Rootfs = _host.Rootfs, Args = ["echo", "hello from busybox"] });
        var helloExit = await hello.WaitAsync();
        var three = await sandbox.Containers.RunAsync(new ContainerSpec { Rootfs = _host.Rootfs, Args = ["sh", "-c", "echo oops >&2; exit 3"] });
        var threeExit = await three.WaitAsync();
        var logs = Path.Combine(_host.Root, sandbox.Id.Value, "containers");

        Assert.Equal(SandboxState.Ready, sandbox.Info.State);
        Assert.StartsWith("ttrpc+unix:///run/containerd/s/", sandbox.Info.TaskAddress);
        Assert.Equal(0u, helloExit.Code);
        Assert.Equal("hello from busybox\n", await File.ReadAllTextAsync(Path.Combine(logs, hello.Id.Value, "stdout.log")));
        Assert.Equal(3u, threeExit.Code);
        Assert.Equal("oops\n", await File.ReadAllTextAsync(Path.Combine(logs, three.Id.Value, "stderr.log")));
        await sandbox.RemoveAsync();
    }

    [Fact]
    public async Task Exec_in_a_running_container_reports_its_exit_code_and_captures_its_output()
    {
        var sandbox = await _host.Host.Sandboxes.RunAsync(new SandboxSpec());
        var c = await sandbox.Containers.RunAsync(new ContainerSpec { Rootfs = _host.Rootfs, Args = ["sleep", "600"] });

        var exit = await c.ExecAsync(new ExecSpec { ExecId = "x1", Args = ["sh", "-c", "echo in-exec; echo exec-err >&2; exit 6"] });
        var dir = Path.Combine(_host.Root, sandbox.Id.Value, "containers", c.Id.Value);

        Assert.Equal(6u, exit.Code);
        Assert.Equal("in-exec\n", await File.ReadAllTextAsync(Path.Combine(dir, "exec-x1.stdout.log")));
        Assert.Equal("exec-err\n", await File.ReadAllTextAsync(Path.Combine(dir, "exec-x1.stderr.log")));
        await sandbox.RemoveAsync();
    }

    [Fact]
    public async Task Container_sees_the_pods_network_and_uts_namespaces_and_hostname()
    {
        var sandbox = await _host.Host.Sandboxes.RunAsync(new SandboxSpec { Hostname = "it-pod" });
        var c = await sandbox.Containers.RunAsync(new ContainerSpec
        {
            Rootfs = _host.Rootfs,
            Args = ["sh", "-c", "readlink /proc/self/ns/net; readlink /proc/self/ns/uts; hostname"],
        });
        await c.WaitAsync();

        var lines = (await File.ReadAllLinesAsync(Path.Combine(_host.Root, sandbox.Id.Value, "containers", c.Id.Value, "stdout.log")));
        Assert.Equal(new FileInfo($"/proc/{sandbox.Info.Pid}/ns/net").LinkTarget, lines[0]);
        Assert.Equal(new FileInfo($"/proc/{sandbox.Info.Pid}/ns/uts").LinkTarget, lines[1]);
        Assert.Equal("it-pod", lines[2]);
        await sandbox.RemoveAsync();
    }

    [Fact]
    public async Task Stop_and_remove_each_twice_leave_nothing_behind()
    {
        var sandbox = await _host.Host.Sandboxes.RunAsync(new SandboxSpec());
        var c = await sandbox.Containers.RunAsync(new ContainerSpec { Rootfs = _host.Rootfs, Args = ["sleep", "600"] });
        var address = sandbox.Info.TaskAddress;
        var live = _host.Leftovers(sandbox.Id.Value, [c.Id.Value], address);
        // The check sees every part of a live pod: shim and pause processes, runc state, cgroups, the shim socket.
        Assert.All(new[] { "process", "runc state", "cgroup", "shim socket" }, kind => Assert.Contains(live, l => l.StartsWith(kind + " ", StringComparison.Ordinal)));

        await sandbox.StopAsync(TimeSpan.FromSeconds(2));
        await sandbox.StopAsync(TimeSpan.FromSeconds(2));
        var stopped = sandbox.Info.State;
        await sandbox.RemoveAsync();
        await sandbox.RemoveAsync();

        Assert.Equal(SandboxState.Stopped, stopped);
        Assert.Empty(_host.Leftovers(sandbox.Id.Value, [c.Id.Value], address));
        Assert.Empty(await _host.Host.Sandboxes.ListAsync());
    }

    [Fact]
    public async Task Killing_the_pause_makes_the_sandbox_Stopped_through_Wait()
    {
        var sandbox = await _host.Host.Sandboxes.RunAsync(new SandboxSpec());
        var address = sandbox.Info.TaskAddress;

        ShimHost.Kill((int)sandbox.Info.Pid, 9);
        var exit = await sandbox.WaitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        var state = await EventuallyAsync(sandbox, s => s == SandboxState.Stopped);
        await sandbox.RemoveAsync();

        Assert.Equal(137u, exit.Code);
        Assert.Equal(SandboxState.Stopped, state);
        Assert.Empty(_host.Leftovers(sandbox.Id.Value, [], address));
    }

    [Fact]
    public async Task Killing_the_shim_makes_the_sandbox_Pending_and_remove_still_cleans_everything()
    {
        var sandbox = await _host.Host.Sandboxes.RunAsync(new SandboxSpec());
        var c = await sandbox.Containers.RunAsync(new ContainerSpec { Rootfs = _host.Rootfs, Args = ["sleep", "600"] });
        var address = sandbox.Info.TaskAddress;
        var shim = ShimPid(_host.ShimIdOf(sandbox.Id.Value));

        ShimHost.Kill(shim, 9);
        var state = await EventuallyAsync(sandbox, s => s != SandboxState.Ready);
        // The pause (and the container) outlive the shim, so the pod still runs: Pending, never Stopped.
        var later = await EventuallyAsync(sandbox, s => s == SandboxState.Stopped, TimeSpan.FromSeconds(2));
        await sandbox.RemoveAsync();

        Assert.NotEqual(SandboxState.Ready, state);
        Assert.Equal(SandboxState.Pending, state);
        Assert.Equal(SandboxState.Pending, later);
        Assert.Empty(_host.Leftovers(sandbox.Id.Value, [c.Id.Value], address));
    }

    [Fact]
    public async Task A_pause_killed_while_no_host_runs_is_reported_by_the_next_host_with_its_exit_code()
    {
        var sandbox = await _host.Host.Sandboxes.RunAsync(new SandboxSpec());
        var (id, pid, address) = (sandbox.Id, sandbox.Info.Pid, sandbox.Info.TaskAddress);

        var reaped = false;
        await _host.RestartAsync(whileDown: () =>
        {
            ShimHost.Kill((int)pid, 9);
            reaped = SpinWait.SpinUntil(() => !Directory.Exists($"/proc/{pid}"), TimeSpan.FromSeconds(10)); // by its shim
        });
        Assert.True(reaped, $"pause {pid} was not reaped by its shim within 10 s");
        var recovered = await _host.Host.Sandboxes.GetAsync(id.Value);
        var info = await recovered.InspectAsync();
        var exit = await recovered.WaitAsync();
        await recovered.RemoveAsync();

        Assert.Equal(SandboxState.Stopped, info.State);
        Assert.Equal(137u, exit.Code); // 128 + SIGKILL, from the shim's Wait, not the "unknown" 255
        Assert.Empty(_host.Leftovers(id.Value, [], address));
    }

    [Fact]
    public async Task A_new_host_process_recovers_a_running_sandbox_then_stops_and_removes_it()
    {
        var sandbox = await _host.Host.Sandboxes.RunAsync(new SandboxSpec { Name = "survivor" });
        var c = await sandbox.Containers.RunAsync(new ContainerSpec { Rootfs = _host.Rootfs, Args = ["sleep", "600"] });
        var (id, address) = (sandbox.Id, sandbox.Info.TaskAddress);

        await _host.RestartAsync();
        var recovered = await _host.Host.Sandboxes.GetAsync("survivor");
        var info = await recovered.InspectAsync();
        var container = await recovered.Containers.GetAsync(c.Id);
        await recovered.StopAsync(TimeSpan.FromSeconds(2));
        await recovered.RemoveAsync();

        Assert.Equal(id, recovered.Id);
        Assert.Equal(SandboxState.Ready, info.State);
        Assert.Equal(c.Id, container.Id);
        Assert.Empty(_host.Leftovers(id.Value, [c.Id.Value], address));
    }

    [Fact]
    public async Task Twenty_sandboxes_run_concurrently_each_with_a_container_and_are_all_cleaned_up()
    {
        var pods = await Task.WhenAll(Enumerable.Range(0, 20).Select(async i =>
        {
            var sandbox = await _host.Host.Sandboxes.RunAsync(new SandboxSpec { Name = $"many-{i}" });
            var c = await sandbox.Containers.RunAsync(new ContainerSpec { Rootfs = _host.Rootfs, Args = ["sh", "-c", "hostname"] });
            var exit = await c.WaitAsync();
            var output = await File.ReadAllTextAsync(Path.Combine(_host.Root, sandbox.Id.Value, "containers", c.Id.Value, "stdout.log"));
            return (Sandbox: sandbox, Container: c.Id, Address: sandbox.Info.TaskAddress, Exit: exit.Code, Output: output);
        }));

        await Task.WhenAll(pods.Select(p => p.Sandbox.RemoveAsync()));

        Assert.Equal(grouping == "Runtime" ? 1 : 20, pods.Select(p => p.Address).Distinct().Count()); // one shim, or one each
        Assert.All(pods, p => Assert.Equal(0u, p.Exit));
        Assert.All(pods, p => Assert.Equal(p.Sandbox.Name + "\n", p.Output)); // each pod has its own UTS namespace
        Assert.All(pods, p => Assert.Empty(_host.Leftovers(p.Sandbox.Id.Value, [p.Container.Value], p.Address)));
        Assert.Empty(await _host.Host.Sandboxes.ListAsync());
    }

    private static async Task<SandboxState> EventuallyAsync(ISandbox sandbox, Func<SandboxState, bool> done, TimeSpan? within = null)
    {
        var state = SandboxState.Unknown;
        var polls = (int)((within ?? TimeSpan.FromSeconds(10)) / TimeSpan.FromMilliseconds(100));
        for (var i = 0; i < polls; i++)
        {
            state = (await sandbox.InspectAsync()).State;
            if (done(state))
            {
                return state;
            }

            await Task.Delay(100);
        }

        return state;
    }

    private static int ShimPid(string shimId) => ShimHost.ProcessWhere(cmdline =>
        cmdline.Contains("containerd-shim", StringComparison.Ordinal) && cmdline.Contains($"-id {shimId} ", StringComparison.Ordinal) &&
        cmdline.Contains($"-namespace {ShimHost.Namespace} ", StringComparison.Ordinal), $"the shim {shimId}");
}
