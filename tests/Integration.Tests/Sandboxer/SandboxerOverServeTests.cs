using System.Text.Json.Nodes;

namespace Isola.Integration.Tests.Sandboxer;

/// <summary>
/// Across the real wire: the sandboxer controller talks to `isola serve` over a Unix socket, which runs a pause
/// sandbox through the shim plugin; the client host runs a container in it through the task address Start returned.
/// </summary>
public sealed class SandboxerOverServeTests
{
    [Fact]
    public async Task A_container_runs_in_a_served_pause_sandbox_and_everything_is_released()
    {
        await using var f = await ServedPodFixture.StartAsync();

        var sandbox = await f.ClientHost.Sandboxes.RunAsync(new SandboxSpec { Name = "served-pod" });
        var served = (await f.ServerHost.Sandboxes.GetAsync(sandbox.Id.Value)).Info;
        Assert.Equal(SandboxState.Ready, sandbox.Info.State);
        Assert.Equal(SandboxState.Ready, served.State);
        Assert.Equal("runc", served.Runtime);
        Assert.Equal(served.TaskAddress, sandbox.Info.TaskAddress);
        Assert.Equal(served.Pid, sandbox.Info.Pid);
        Assert.True(File.Exists($"/proc/{served.Pid}/ns/net"), "the pause process should be running");

        var container = await sandbox.Containers.RunAsync(new ContainerSpec
        {
            Rootfs = f.Rootfs,
            Args = ["sh", "-c", "echo hello-through-serve; sleep 30"],
        });
        var bundle = Path.Combine(f.BundleRoot, sandbox.Id.Value, container.Id.Value);
        var config = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(bundle, "config.json")))!;
        var net = config["linux"]!["namespaces"]!.AsArray().Single(n => (string?)n!["type"] == "network")!;
        Assert.Equal($"/proc/{served.Pid}/ns/net", (string?)net["path"]);

        // An exec is a second Update (the process list) and a Task.Exec on the served shim.
        var exec = await container.ExecAsync(new ExecSpec { Args = ["sh", "-c", "exit 3"] });
        Assert.Equal(3u, exec.Code);

        await container.StopAsync(TimeSpan.FromSeconds(1));
        var exit = await container.WaitAsync();
        Assert.NotEqual(0u, exit.Code);
        var stdout = new Uri(container.Info.Stdio.Stdout).LocalPath;
        Assert.Contains("hello-through-serve", await File.ReadAllTextAsync(stdout));
        await container.DeleteAsync();
        Assert.False(Directory.Exists(bundle), "Purge should have removed the container's bundle on the server");

        await sandbox.StopAsync(TimeSpan.FromSeconds(2));
        await sandbox.StopAsync(TimeSpan.FromSeconds(2));
        Assert.Equal(SandboxState.Stopped, (await f.ServerHost.Sandboxes.GetAsync(sandbox.Id.Value)).Info.State);
        await sandbox.RemoveAsync();
        await sandbox.RemoveAsync();

        Assert.Empty(await f.ClientHost.Sandboxes.ListAsync());
        Assert.Empty(await f.ServerHost.Sandboxes.ListAsync());
        Assert.False(Directory.Exists(Path.Combine(f.BundleRoot, sandbox.Id.Value)));
        Assert.Empty(f.ProcessesUnderWork());
    }

    [Fact]
    public async Task A_host_network_pod_through_serve_shares_the_host_network_namespace()
    {
        await using var f = await ServedPodFixture.StartAsync();

        var sandbox = await f.ClientHost.Sandboxes.RunAsync(new SandboxSpec { Network = SandboxSpec.HostNetwork });

        var served = (await f.ServerHost.Sandboxes.GetAsync(sandbox.Id.Value)).Info;
        Assert.Equal(SandboxSpec.HostNetwork, served.Spec.Network);
        // The pause process sits in this process's network namespace, not in a new one.
        Assert.Equal(NetNamespace("self"), NetNamespace(served.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        await sandbox.RemoveAsync();
        Assert.Empty(await f.ServerHost.Sandboxes.ListAsync());
        Assert.Empty(f.ProcessesUnderWork());
    }

    private static string NetNamespace(string pid) =>
        new FileInfo($"/proc/{pid}/ns/net").LinkTarget ?? throw new InvalidOperationException($"/proc/{pid}/ns/net is not a link");

    [Fact]
    public async Task Serve_going_away_makes_the_client_sandbox_Pending_and_coming_back_Ready_without_recreate()
    {
        await using var f = await ServedPodFixture.StartAsync();
        var sandbox = await f.ClientHost.Sandboxes.RunAsync(new SandboxSpec());
        var pausePid = sandbox.Info.Pid;

        await f.StopApiAsync();
        await WaitForStateAsync(f.ClientHost, sandbox.Id.Value, SandboxState.Pending);
        await f.RestartApiAsync();
        await WaitForStateAsync(f.ClientHost, sandbox.Id.Value, SandboxState.Ready);

        var served = Assert.Single(await f.ServerHost.Sandboxes.ListAsync());
        Assert.Equal(pausePid, served.Pid);
        await sandbox.RemoveAsync();
        Assert.Empty(await f.ServerHost.Sandboxes.ListAsync());
        Assert.Empty(f.ProcessesUnderWork());
    }

    [Fact]
    public async Task After_a_client_host_restart_the_task_list_is_intact_and_Wait_is_rearmed()
    {
        await using var f = await ServedPodFixture.StartAsync();
        var sandbox = await f.ClientHost.Sandboxes.RunAsync(new SandboxSpec());
        var first = await sandbox.Containers.RunAsync(new ContainerSpec { Rootfs = f.Rootfs, Args = ["sleep", "30"] });

        await f.RestartClientAsync();

        var reloaded = await f.ClientHost.Sandboxes.GetAsync(sandbox.Id.Value);
        Assert.Equal(SandboxState.Ready, reloaded.Info.State);
        // A second container's Update must still list the first one, or the server would remove its bundle.
        var second = await reloaded.Containers.RunAsync(new ContainerSpec { Rootfs = f.Rootfs, Args = ["true"] });
        Assert.True(File.Exists(Path.Combine(f.BundleRoot, sandbox.Id.Value, first.Id.Value, "config.json")));
        Assert.Equal(0u, (await second.WaitAsync()).Code);
        await second.DeleteAsync();
        var again = await reloaded.Containers.GetAsync(first.Id);
        await again.StopAsync(TimeSpan.FromSeconds(1));
        await again.DeleteAsync();
        Assert.False(Directory.Exists(Path.Combine(f.BundleRoot, sandbox.Id.Value, first.Id.Value)));

        // The re-armed Wait sees the sandbox stop even when the stop comes from the other side.
        await (await f.ServerHost.Sandboxes.GetAsync(sandbox.Id.Value)).StopAsync(TimeSpan.FromSeconds(1));
        await WaitForStateAsync(f.ClientHost, sandbox.Id.Value, SandboxState.Stopped);
        await reloaded.RemoveAsync();
        Assert.Empty(await f.ServerHost.Sandboxes.ListAsync());
        Assert.Empty(f.ProcessesUnderWork());
    }

    private static async Task WaitForStateAsync(IIsola host, string id, SandboxState state)
    {
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        SandboxState current;
        while ((current = (await host.Sandboxes.ListAsync()).Single(s => s.Id == id).State) != state)
        {
            Assert.True(DateTime.UtcNow < until, $"sandbox {id} stayed {current}, expected {state}");
            await Task.Delay(50);
        }
    }
}
