using System.Diagnostics;
using Isola.Plugins.StratoVirt.Vmm.Processes;
using Isola.Plugins.StratoVirt.Tests.Qmp;
using Isola.Plugins.StratoVirt.Vmm;
using Isola.Vmm;

namespace Isola.Plugins.StratoVirt.Tests.Vmm;

/// <summary>The `stratovirt` VMM's VM handle against the enforcing StratoVirt QMP double: root-port hot-plug on the
/// standard machine, replaceable MMIO slots on microvm, and stop escalating to SIGKILL. The "VMM process" is a real
/// sleep, so exit watching and killing are real.</summary>
public sealed class StratoVirtHotplugTests : AttachedVmTestBase
{
    public StratoVirtHotplugTests()
        : base("sv-hp")
    {
    }

    private Task<IVmInstance> AttachAsync(StratoVirtQmpServer server, string machine, string slots = "2") =>
        AttachAsync(server, "sv1", machine,
            new Dictionary<string, string> { [VmSettings.HotplugSlotsKey] = slots, [VmSettings.UnplugTimeoutKey] = "00:00:05" });

    private string Disk(string name)
    {
        var path = Path.Combine(Directory, name);
        File.WriteAllBytes(path, new byte[4096]);
        return path;
    }

    [Fact]
    public async Task Standard_machine_plugs_into_root_ports_and_unplugs_with_blockdev_del()
    {
        await using var server = new StratoVirtQmpServer(QmpSocket, ["pcie.1", "pcie.2"]);
        await using var vm = await AttachAsync(server, "q35");

        var a = await vm.HotplugBlockAsync(new BlockDeviceSpec("blk0", Disk("a")), CancellationToken.None);
        await vm.UnplugAsync("blk0", CancellationToken.None);
        var b = await vm.HotplugBlockAsync(new BlockDeviceSpec("blk1", Disk("b")), CancellationToken.None);

        Assert.Equal("pcie.1", a.Slot);
        Assert.Equal("pcie.1", b.Slot);
        Assert.Contains(server.Commands, c => c["execute"]!.GetValue<string>() == "blockdev-del");
        Assert.Empty(server.Violations);
    }

    [Fact]
    public async Task Microvm_uses_replaceable_slots_whose_id_is_the_node_name()
    {
        await using var server = new StratoVirtQmpServer(QmpSocket, [], microvm: true);
        await using var vm = await AttachAsync(server, "microvm");

        var plugged = new List<PluggedDevice>();
        for (var i = 0; i < 4; i++)
        {
            plugged.Add(await vm.HotplugBlockAsync(new BlockDeviceSpec($"blk{i}", Disk($"d{i}")), CancellationToken.None));
        }

        var full = await Assert.ThrowsAsync<IsolaException>(() => vm.HotplugBlockAsync(new BlockDeviceSpec("blk4", Disk("d4")), CancellationToken.None));
        await vm.UnplugAsync("blk2", CancellationToken.None);
        var again = await vm.HotplugBlockAsync(new BlockDeviceSpec("blk5", Disk("d5")), CancellationToken.None);

        Assert.Equal(["mmio.0x0", "mmio.0x1", "mmio.0x2", "mmio.0x3"], plugged.Select(p => p.Slot));
        Assert.Equal(IsolaErrorCode.ResourceExhausted, full.Code);
        Assert.Equal("mmio.0x2", again.Slot);
        Assert.DoesNotContain(server.Commands, c => c["execute"]!.GetValue<string>() == "blockdev-del");
        Assert.Empty(server.Violations);
    }

    [Fact]
    public async Task Nic_hotplug_is_refused_on_microvm()
    {
        await using var server = new StratoVirtQmpServer(QmpSocket, [], microvm: true);
        await using var vm = await AttachAsync(server, "microvm");

        var e = await Assert.ThrowsAsync<IsolaException>(() => vm.HotplugNetAsync(new NetDeviceSpec("nic0", "tap0", "52:54:00:00:00:01"), CancellationToken.None));

        Assert.Equal(IsolaErrorCode.Unimplemented, e.Code);
        Assert.Empty(vm.Devices);
    }

    [Fact]
    public async Task A_VMM_ignoring_quit_is_SIGKILLed_after_the_grace_and_Wait_reports_137()
    {
        await using var server = new StratoVirtQmpServer(QmpSocket, []);
        server.Unanswered.Add("quit");
        await using var vm = await AttachAsync(server, "q35");
        var wait = vm.WaitAsync(CancellationToken.None);

        var sw = Stopwatch.StartNew();
        await vm.StopAsync(TimeSpan.FromMilliseconds(300), CancellationToken.None);
        var exit = await wait.WaitAsync(TimeSpan.FromSeconds(5));

        Assert.True(VmmProcess.WaitForExit(5000));
        Assert.Equal(137u, exit.Code);
        Assert.Contains(server.Commands, c => c["execute"]!.GetValue<string>() == "quit");
        // Task.Delay counts in whole milliseconds of the tick count, so the grace can end a little before 300 ms of
        // Stopwatch time; what matters is that the VMM was given the grace, not killed at once.
        Assert.True(sw.Elapsed >= TimeSpan.FromMilliseconds(290), $"SIGKILLed after {sw.Elapsed.TotalMilliseconds:F1} ms, before the 300 ms grace");
    }

    [Fact]
    public async Task The_proc_polling_fallback_sees_aVmmProcess_exit()
    {
        var identity = ProcessIdentity.Read(VmmProcess.Id)!.Value;
        var watch = ProcessExitWatcher.PollProcAsync(identity, CancellationToken.None);
        await Task.Delay(200);
        var early = watch.IsCompleted;

        VmmProcess.Kill();
        await watch.WaitAsync(TimeSpan.FromSeconds(5));

        Assert.False(early);
        Assert.False(identity.IsAlive());
    }

    [Fact]
    public async Task Vcpu_threads_come_from_query_cpus_on_StratoVirt()
    {
        await using var server = new StratoVirtQmpServer(QmpSocket, []);
        await using var vm = await AttachAsync(server, "q35");

        var threads = await ((QmpVmInstance)vm).VcpuThreadsAsync(CancellationToken.None);

        Assert.Equal([4242], threads);
        Assert.Empty(server.Violations);
    }
}
