using System.Text.Json.Nodes;
using Isola.Controllers;
using Isola.TestSupport;

namespace Isola.Plugins.StratoVirt.Tests.Controller;

/// <summary>VM tests boot real QEMU guests under TCG; they run one at a time to spare the CPU.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class VmCollection
{
    public const string Name = "real VMs";
}

/// <summary>The `vm` controller end to end: a QEMU microvm under TCG booting Debian's kernel and the project's
/// initramfs, whose console reports what the controller did to it.</summary>
[Collection(VmCollection.Name)]
public sealed class VmControllerEndToEndTests : IAsyncLifetime
{
    private readonly VmHarness _harness = new("vm-e2e");

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _harness.DisposeAsync();

    [Theory]
    [InlineData("microvm", "0000:00:01.0")]
    [InlineData("q35", "0000:00:04.0")]
    public async Task Ready_hotplug_seen_by_the_guest_purge_stop_and_shutdown_leave_nothing(string machine, string firstRootPort)
    {
        var options = VmHarness.GuestOptions();
        options["MachineType"] = machine;
        var controller = _harness.CreateController(options);
        var sandbox = _harness.NewSandbox("e2e-" + machine);
        var disk = Path.Combine(_harness.Root, "rootfs.img");
        File.WriteAllBytes(disk, new byte[8 << 20]);
        var rootDir = Path.Combine(_harness.Root, "rootfs-dir");
        Directory.CreateDirectory(rootDir);
        File.WriteAllText(Path.Combine(rootDir, "hello"), "from the host");
        var oci = new JsonObject { ["ociVersion"] = "1.1.0", ["process"] = new JsonObject { ["args"] = new JsonArray("true") } }.ToJsonString();

        await controller.CreateAsync(sandbox, CancellationToken.None);
        var started = await controller.StartAsync(sandbox, CancellationToken.None);
        sandbox.TaskAddress = started.TaskAddress;
        var bootConsole = await VmHarness.WaitForConsoleAsync(sandbox, "ISOLA-GUEST-READY", TimeSpan.FromSeconds(1));
        var status = await controller.StatusAsync(sandbox, verbose: true, CancellationToken.None);
        var exit = controller.WaitAsync(sandbox, CancellationToken.None);

        Assert.Equal($"ttrpc+unix://{sandbox.StateDirectory}/agent.sock", started.TaskAddress);
        Assert.True(Processes.IsRunning(started.Pid));
        Assert.Contains("ISOLA-VIRTIOFS kuasar", bootConsole);
        Assert.True(status.Ready);
        Assert.Equal("running", status.Info["vmm.status"]);

        // A block-device rootfs is hot-plugged and the guest sees it; a directory rootfs is bind-mounted into the share.
        var blockResult = await controller.PrepareAsync(sandbox, Request("c1", disk, oci), CancellationToken.None);
        await VmHarness.WaitForConsoleAsync(sandbox, "ISOLA-BLOCK-ADDED vda 16384", TimeSpan.FromSeconds(30));
        var dirResult = await controller.PrepareAsync(sandbox, Request("c2", rootDir, oci), CancellationToken.None);
        var shared = Path.Combine(sandbox.StateDirectory, "shared");
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(shared, "c1", "config.json")))!;

        Assert.Equal("/run/kuasar/state/c1", blockResult.Bundle);
        var mount = Assert.Single(blockResult.Rootfs);
        Assert.Equal(firstRootPort, mount.Source);
        Assert.Equal(["rw"], mount.Options);
        Assert.Equal("rootfs", config["root"]!["path"]!.GetValue<string>());
        Assert.Contains("\"pcie.1\"", sandbox.ControllerData["vmm.devices"]);
        Assert.Empty(dirResult.Rootfs);
        Assert.Equal("from the host", File.ReadAllText(Path.Combine(shared, "c2", "rootfs", "hello")));

        await controller.PurgeAsync(sandbox, new PurgeRequest("c1"), CancellationToken.None);
        await VmHarness.WaitForConsoleAsync(sandbox, "ISOLA-BLOCK-REMOVED vda", TimeSpan.FromSeconds(30));
        await controller.PurgeAsync(sandbox, new PurgeRequest("c2"), CancellationToken.None);

        Assert.Equal("[]", sandbox.ControllerData["vmm.devices"]);
        Assert.False(Directory.Exists(Path.Combine(shared, "c1")));
        Assert.False(Directory.Exists(Path.Combine(shared, "c2")));
        Assert.Equal("from the host", File.ReadAllText(Path.Combine(rootDir, "hello")));

        await controller.StopAsync(sandbox, TimeSpan.FromSeconds(5), CancellationToken.None);
        var exited = await exit.WaitAsync(TimeSpan.FromSeconds(10));
        await controller.StopAsync(sandbox, TimeSpan.FromSeconds(5), CancellationToken.None);

        Assert.Equal(0u, exited.Code);
        Assert.False(Processes.IsRunning(started.Pid));
        Assert.Empty(Directory.GetFiles(sandbox.StateDirectory, "*.sock"));
        Assert.False((await controller.StatusAsync(sandbox, false, CancellationToken.None)).Ready);

        await controller.ShutdownAsync(sandbox, CancellationToken.None);
        await controller.ShutdownAsync(sandbox, CancellationToken.None);

        Assert.Empty(Directory.EnumerateFileSystemEntries(sandbox.StateDirectory));
        Assert.Empty(VmHarness.ProcessesUsing(sandbox.StateDirectory));
        Assert.DoesNotContain(sandbox.ControllerData.Keys, k => k.StartsWith("vm", StringComparison.Ordinal));
        Assert.DoesNotContain(File.ReadAllText("/proc/self/mountinfo"), _harness.Root);
    }

    [Fact]
    public async Task Agent_readiness_goes_through_the_virtio_serial_task_address()
    {
        // isola-agent answers ttrpc on the virtio-serial port; the host reaches it at the task address.
        var controller = _harness.CreateController(VmHarness.GuestOptions(readiness: "agent"));
        var sandbox = _harness.NewSandbox("agent1");

        await controller.CreateAsync(sandbox, CancellationToken.None);
        var started = await controller.StartAsync(sandbox, CancellationToken.None);
        var console = await VmHarness.WaitForConsoleAsync(sandbox, "ISOLA-AGENT-READY", TimeSpan.FromSeconds(1));
        await controller.ShutdownAsync(sandbox, CancellationToken.None);

        Assert.StartsWith("ttrpc+unix://", started.TaskAddress);
        Assert.Contains("ISOLA-GUEST-READY", console);
        Assert.False(Processes.IsRunning(started.Pid));
    }

    internal static PrepareRequest Request(string id, string rootfs, string oci) => new()
    {
        ContainerId = id,
        Container = new ContainerSpec { Id = id, Rootfs = rootfs, Args = ["true"] },
        OciSpec = JsonNode.Parse(oci)!.AsObject(),
        Stdio = new StdioSpec("", "", ""),
    };
}
