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
        var served = (await f.ServerHost.Sandboxes.GetAsync(sandbox.Id)).Info;
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
        var bundle = Path.Combine(f.BundleRoot, sandbox.Id, container.Id);
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
        Assert.Equal(SandboxState.Stopped, (await f.ServerHost.Sandboxes.GetAsync(sandbox.Id)).Info.State);
        await sandbox.RemoveAsync();
        await sandbox.RemoveAsync();

        Assert.Empty(await f.ClientHost.Sandboxes.ListAsync());
        Assert.Empty(await f.ServerHost.Sandboxes.ListAsync());
        Assert.False(Directory.Exists(Path.Combine(f.BundleRoot, sandbox.Id)));
        Assert.Empty(f.ProcessesUnderWork());
    }
}
