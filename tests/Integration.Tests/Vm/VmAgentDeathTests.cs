using System.Text.Json.Nodes;
using Isola.Controllers;
using Isola.TaskApi.Protos.Task;
using Isola.Ttrpc.Client;

namespace Isola.Integration.Tests.Vm;

/// <summary>The guest agent killed inside the guest: the VM goes down with it and the host reports the sandbox
/// Stopped; remove leaves nothing.</summary>
[Collection(VmCollection.Name)]
public sealed class VmAgentDeathTests : IAsyncLifetime
{
    private const string Task = "containerd.task.v2.Task";
    private VmHost _vm = null!;

    public async Task InitializeAsync() => _vm = await VmHost.StartAsync();

    public async Task DisposeAsync() => await _vm.DisposeAsync();

    [Fact]
    public async Task An_agent_killed_in_the_guest_takes_the_vm_down_and_the_sandbox_is_reported_stopped()
    {
        var sandbox = await _vm.Host.Sandboxes.RunAsync(new SandboxSpec { Runtime = VmGuest.Runtime });
        var exited = sandbox.WaitAsync();
        // A container in the guest's own PID namespace (which the host API never makes) can see the agent and kill it.
        var prepared = await sandbox.PrepareAsync(new PrepareRequest
        {
            ContainerId = "killer",
            Container = new ContainerSpec { Id = "killer", Rootfs = _vm.Rootfs, Args = ["sh"] },
            OciSpecJson = KillerSpec(),
            Stdio = new StdioSpec("", "", ""),
        });
        await using (var agent = await TtrpcClient.ConnectAsync(sandbox.Info.TaskAddress))
        {
            await agent.CallAsync(Task, "Create", new CreateTaskRequest { Id = "killer", Bundle = prepared.Bundle }, CreateTaskResponse.Parser);
            await agent.CallAsync(Task, "Start", new StartRequest { Id = "killer" }, StartResponse.Parser);
        }

        var exit = await exited.WaitAsync(TimeSpan.FromSeconds(60));
        var info = await sandbox.InspectAsync();
        var console = await File.ReadAllTextAsync(Path.Combine(_vm.Root, sandbox.Id, "console.log"));
        var id = sandbox.Id;
        await sandbox.RemoveAsync();

        Assert.Contains("ISOLA-AGENT-EXITED 137", console);
        Assert.Equal(SandboxState.Stopped, info.State);
        Assert.Equal(1u, exit.Code); // the guest reset itself: not a clean poweroff
        Assert.Empty(VmLeftovers.Of(_vm.Root, id));
    }

    /// <summary>A minimal OCI spec: busybox sh killing isola-agent, with mount, UTS and IPC namespaces but the guest's
    /// PID namespace.</summary>
    private static string KillerSpec() => new JsonObject
    {
        ["ociVersion"] = "1.1.0",
        ["process"] = new JsonObject
        {
            ["args"] = new JsonArray("sh", "-c", "kill -9 $(pidof isola-agent)"),
            ["env"] = new JsonArray("PATH=/bin:/sbin:/usr/bin"),
            ["cwd"] = "/",
            ["user"] = new JsonObject { ["uid"] = 0, ["gid"] = 0 },
        },
        ["root"] = new JsonObject { ["path"] = "rootfs" },
        ["mounts"] = new JsonArray(new JsonObject { ["destination"] = "/proc", ["type"] = "proc", ["source"] = "proc" }),
        ["linux"] = new JsonObject
        {
            ["namespaces"] = new JsonArray(new JsonObject { ["type"] = "mount" }, new JsonObject { ["type"] = "uts" }, new JsonObject { ["type"] = "ipc" }),
        },
    }.ToJsonString();
}
