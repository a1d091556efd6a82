using System.Text.Json.Nodes;
using Isola.Controllers;
using Isola.TaskApi.Protos.Task;
using Isola.Ttrpc.Client;

namespace Isola.Integration.Tests.Vm;

/// <summary>Containers in the guest's own PID namespace, which the host API never makes, driven over the Task API the
/// way an engine behind isola serve drives the agent: one kills the agent (the VM goes down with it and the host reports
/// the sandbox Stopped; remove leaves nothing), one is a plain process a SIGTERM can end (the init of a PID namespace
/// ignores it).</summary>
[Collection(VmCollection.Name)]
public sealed class VmGuestPidNamespaceTests : IAsyncLifetime
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
            OciSpec = GuestPidNamespaceSpec("kill -9 $(pidof isola-agent)"),
            Stdio = new StdioSpec("", "", ""),
        });
        await using (var agent = await TtrpcClient.ConnectAsync(sandbox.Info.TaskAddress))
        {
            await agent.CallAsync(Task, "Create", new CreateTaskRequest { Id = "killer", Bundle = prepared.Bundle }, CreateTaskResponse.Parser);
            await agent.CallAsync(Task, "Start", new StartRequest { Id = "killer" }, StartResponse.Parser);
        }

        var exit = await exited.WaitAsync(TimeSpan.FromSeconds(60));
        var info = await sandbox.InspectAsync();
        var console = await File.ReadAllTextAsync(Path.Combine(_vm.Root, sandbox.Id.Value, "console.log"));
        var id = sandbox.Id;
        await sandbox.RemoveAsync();

        Assert.Contains("ISOLA-AGENT-EXITED 137", console);
        Assert.Equal(SandboxState.Stopped, info.State);
        Assert.Equal(1u, exit.Code); // the guest reset itself: not a clean poweroff
        Assert.Empty(VmLeftovers.Of(_vm.Root, id));
    }

    [Fact]
    public async Task SIGTERM_ends_a_guest_process_with_143_and_SIGKILL_with_137()
    {
        var sandbox = await _vm.Host.Sandboxes.RunAsync(new SandboxSpec { Runtime = VmGuest.Runtime });
        var exits = new List<uint>();
        await using (var agent = await TtrpcClient.ConnectAsync(sandbox.Info.TaskAddress))
        {
            foreach (var (id, signal) in new[] { ("term", 15u), ("kill", 9u) })
            {
                var prepared = await sandbox.PrepareAsync(new PrepareRequest
                {
                    ContainerId = id,
                    Container = new ContainerSpec { Id = id, Rootfs = _vm.Rootfs, Args = ["sleep"] },
                    OciSpec = GuestPidNamespaceSpec("exec sleep 600"),
                    Stdio = new StdioSpec("", "", ""),
                });
                await agent.CallAsync(Task, "Create", new CreateTaskRequest { Id = id, Bundle = prepared.Bundle }, CreateTaskResponse.Parser);
                await agent.CallAsync(Task, "Start", new StartRequest { Id = id }, StartResponse.Parser);
                await agent.CallAsync(Task, "Kill", new KillRequest { Id = id, Signal = signal }, Google.Protobuf.WellKnownTypes.Empty.Parser);
                var exit = await agent.CallAsync(Task, "Wait", new WaitRequest { Id = id }, WaitResponse.Parser);
                exits.Add(exit.ExitStatus);
                await agent.CallAsync(Task, "Delete", new DeleteRequest { Id = id }, DeleteResponse.Parser);
                await sandbox.PurgeAsync(new PurgeRequest(id));
            }
        }

        var shared = Path.Combine(_vm.Root, sandbox.Id.Value, "shared");
        var bundles = Directory.GetDirectories(shared);
        var sandboxId = sandbox.Id;
        await sandbox.RemoveAsync();

        Assert.Equal([143u, 137u], exits);
        Assert.Empty(bundles);
        Assert.Empty(VmLeftovers.Of(_vm.Root, sandboxId));
    }

    /// <summary>A minimal OCI spec running busybox sh -c <paramref name="script"/> with mount, UTS and IPC namespaces but
    /// the guest's PID namespace.</summary>
    private static JsonObject GuestPidNamespaceSpec(string script) => new()
    {
        ["ociVersion"] = "1.1.0",
        ["process"] = new JsonObject
        {
            ["args"] = new JsonArray("sh", "-c", script),
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
    };
}
