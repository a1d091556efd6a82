using System.Text.Json.Nodes;
using Isola.Plugins.StratoVirt.Qmp;
using Isola.Plugins.StratoVirt.Vmm;
using Isola.Plugins.StratoVirt.Vmm.Processes;
using Isola.Vmm;

namespace Isola.Plugins.StratoVirt.Tests.Qmp;

/// <summary>The QMP client and the VM handle against a real QEMU (Debian's qemu-system-x86) with no guest.</summary>
public sealed class QemuQmpTests : IAsyncLifetime
{
    private QemuPeer _qemu = null!;

    public async Task InitializeAsync() => _qemu = await QemuPeer.StartAsync();

    public async Task DisposeAsync() => await _qemu.DisposeAsync();

    private Task<QmpClient> ConnectAsync() =>
        QmpClient.ConnectAsync(_qemu.QmpSocket, new QmpClientOptions { CommandTimeout = TimeSpan.FromSeconds(10) }, null, CancellationToken.None);

    [Fact]
    public async Task Greeting_capabilities_and_status()
    {
        await using var qmp = await ConnectAsync();

        var status = await qmp.ExecuteAsync("query-status", null, CancellationToken.None) as JsonObject;

        Assert.Equal(7, qmp.Greeting.Major);
        Assert.Contains("oob", qmp.Greeting.Capabilities);
        Assert.Equal("prelaunch", status!["status"]!.GetValue<string>());
        Assert.False(status["running"]!.GetValue<bool>());
    }

    [Fact]
    public async Task Cont_and_stop_deliver_their_events_even_before_the_reply()
    {
        await using var qmp = await ConnectAsync();

        var (_, resume) = await qmp.ExecuteAndWaitEventAsync("cont", null, e => e.Name == "RESUME", TimeSpan.FromSeconds(5), CancellationToken.None);
        var running = await qmp.ExecuteAsync("query-status", null, CancellationToken.None);
        var (_, stop) = await qmp.ExecuteAndWaitEventAsync("stop", null, e => e.Name == "STOP", TimeSpan.FromSeconds(5), CancellationToken.None);
        var paused = await qmp.ExecuteAsync("query-status", null, CancellationToken.None);

        Assert.Equal("RESUME", resume.Name);
        Assert.Equal("running", running!["status"]!.GetValue<string>());
        Assert.Equal("STOP", stop.Name);
        Assert.Equal("paused", paused!["status"]!.GetValue<string>());
    }

    [Fact]
    public async Task Block_hotplug_fills_root_ports_and_unplug_frees_them()
    {
        string Disk(string name)
        {
            // One file per device: QEMU locks an image against a second writer.
            var path = Path.Combine(_qemu.Directory, name + ".img");
            File.WriteAllBytes(path, new byte[1 << 20]);
            return path;
        }

        await using var vm = await AttachAsync();

        var a = await vm.HotplugBlockAsync(new BlockDeviceSpec("blka", Disk("a")), CancellationToken.None);
        var b = await vm.HotplugBlockAsync(new BlockDeviceSpec("blkb", Disk("b"), ReadOnly: true), CancellationToken.None);
        var full = await Assert.ThrowsAsync<IsolaException>(() => vm.HotplugBlockAsync(new BlockDeviceSpec("blkc", Disk("c")), CancellationToken.None));
        var peripherals = await PeripheralsAsync(vm);
        await vm.UnplugAsync("blka", CancellationToken.None);
        var afterUnplug = await PeripheralsAsync(vm);
        var c = await vm.HotplugBlockAsync(new BlockDeviceSpec("blkc", Disk("c")), CancellationToken.None);

        Assert.Equal(("pcie.1", "pcie.2"), (a.Slot, b.Slot));
        Assert.Equal(IsolaErrorCode.ResourceExhausted, full.Code);
        Assert.Contains("blka", peripherals);
        Assert.DoesNotContain("blka", afterUnplug);
        Assert.Equal("pcie.1", c.Slot);
        Assert.Equal(["blkc", "blkb"], vm.Devices.Select(d => d.Id));
        Assert.Contains("\"blkc\"", vm.RecoveryData[RecoveryKeys.Devices]);
    }

    [Fact]
    public async Task Vcpu_threads_come_from_query_cpus_fast_on_QEMU()
    {
        await using var vm = await AttachAsync();

        var threads = await ((QmpVmInstance)vm).VcpuThreadsAsync(CancellationToken.None);

        var tid = Assert.Single(threads);
        Assert.True(Directory.Exists($"/proc/{_qemu.Process.Pid}/task/{tid}"), $"thread {tid} should belong to QEMU pid {_qemu.Process.Pid}");
    }

    [Fact]
    public async Task Nic_hotplug_into_a_root_port_and_unplug()
    {
        await using var vm = await AttachAsync();
        var tap = "isolat" + Guid.NewGuid().ToString("N")[..6];

        var nic = await vm.HotplugNetAsync(new NetDeviceSpec("nic0", tap, "52:54:00:12:34:56"), CancellationToken.None);
        var tapExisted = Directory.Exists("/sys/class/net/" + tap);
        await vm.UnplugAsync("nic0", CancellationToken.None);

        Assert.Equal(("net", "pcie.1"), (nic.Kind, nic.Slot));
        Assert.True(tapExisted, "QEMU should have opened tap " + tap);
        Assert.Empty(vm.Devices);
        Assert.False(Directory.Exists("/sys/class/net/" + tap), "netdev_del should have closed the tap");
    }

    [Fact]
    public async Task Quit_emits_SHUTDOWN_and_the_exit_is_seen_through_pidfd()
    {
        await using var qmp = await ConnectAsync();
        var shutdown = qmp.WaitForEventAsync(e => e.Name == "SHUTDOWN", TimeSpan.FromSeconds(10), "SHUTDOWN", CancellationToken.None);

        try
        {
            await qmp.ExecuteAsync("quit", null, CancellationToken.None);
        }
        catch (IsolaException e) when (e.Code == IsolaErrorCode.Unavailable)
        {
            // QEMU may close the socket right after SHUTDOWN.
        }

        var ev = await shutdown;
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await ProcessExitWatcher.WaitForExitAsync(_qemu.Process, cts.Token);

        Assert.Equal("host-qmp-quit", ev.DataString("reason"));
        Assert.False(_qemu.Process.IsAlive());
        await qmp.Closed.WaitAsync(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task A_killed_VMM_fails_pending_waits_with_Unavailable()
    {
        await using var qmp = await ConnectAsync();
        var never = qmp.WaitForEventAsync(e => e.Name == "DEVICE_DELETED", TimeSpan.FromSeconds(30), "DEVICE_DELETED", CancellationToken.None);

        Native.LibC.Kill(_qemu.Process.Pid, Native.LibC.SIGKILL);
        var e = await Assert.ThrowsAsync<IsolaException>(() => never);
        var after = await Assert.ThrowsAsync<IsolaException>(() => qmp.ExecuteAsync("query-status", null, CancellationToken.None));

        Assert.Equal(IsolaErrorCode.Unavailable, e.Code);
        Assert.Equal(IsolaErrorCode.Unavailable, after.Code);
        Assert.Contains(_qemu.QmpSocket, after.Message);
    }

    private async Task<IVmInstance> AttachAsync()
    {
        var spec = new VmLaunchSpec
        {
            Id = "qmp-test",
            StateDirectory = _qemu.Directory,
            Binary = TestPaths.Qemu,
            Kernel = "/nonexistent",
            MachineType = "microvm",
            Extra = new Dictionary<string, string> { [VmSettings.HotplugSlotsKey] = "2", [VmSettings.UnplugTimeoutKey] = "00:00:10" },
        };
        var data = new Dictionary<string, string> { [RecoveryKeys.Vmm] = _qemu.Process.ToString(), [RecoveryKeys.Qmp] = _qemu.QmpSocket };
        return await new QemuVmm().AttachAsync(spec, data, CancellationToken.None);
    }

    private static async Task<IReadOnlyList<string>> PeripheralsAsync(IVmInstance vm)
    {
        var qmp = ((QmpVmInstance)vm).Qmp;
        var list = await qmp.ExecuteAsync("qom-list", new JsonObject { ["path"] = "/machine/peripheral" }, CancellationToken.None) as JsonArray;
        return [.. list!.Select(n => n!["name"]!.GetValue<string>())];
    }
}
