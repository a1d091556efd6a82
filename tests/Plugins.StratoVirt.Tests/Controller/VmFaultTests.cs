using System.Text.Json.Nodes;
using Isola.Controllers;
using Isola.Plugins.StratoVirt.Controller;
using Isola.Plugins.StratoVirt.Vmm;
using Isola.TestSupport;
using Isola.Vmm;

namespace Isola.Plugins.StratoVirt.Tests.Controller;

/// <summary>Faults: a killed VMM, a VMM whose QMP socket never appears, a host restart with a VM running.</summary>
[Collection(VmCollection.Name)]
public sealed class VmFaultTests : IAsyncLifetime
{
    private readonly VmHarness _harness = new("vm-fault");

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _harness.DisposeAsync();

    [Fact]
    public async Task A_SIGKILLed_VMM_is_reported_by_Wait_and_Shutdown_cleans_up()
    {
        var controller = _harness.CreateController(VmHarness.GuestOptions(readiness: "none"));
        var sandbox = _harness.NewSandbox("kill1");
        await controller.CreateAsync(sandbox, CancellationToken.None);
        var started = await controller.StartAsync(sandbox, CancellationToken.None);
        var virtiofsd = int.Parse(sandbox.ControllerData[RecoveryKeys.Virtiofsd].Split('@')[0]);
        var wait = controller.WaitAsync(sandbox, CancellationToken.None);
        // Kill only once Wait holds the VM, as the host's background Wait has long before a VM dies.
        await VmHarness.UntilAsync(() => ((VmController)controller).IsAttached(sandbox.Id) || wait.IsCompleted,
            TimeSpan.FromSeconds(10), "Wait to attach to the VM");

        Native.LibC.Kill((int)started.Pid, Native.LibC.SIGKILL);
        var exit = await wait.WaitAsync(TimeSpan.FromSeconds(10));
        var status = await controller.StatusAsync(sandbox, false, CancellationToken.None);
        await controller.ShutdownAsync(sandbox, CancellationToken.None);

        Assert.Equal(137u, exit.Code);
        Assert.False(status.Ready);
        Assert.False(Processes.IsRunning(started.Pid));
        Assert.False(Processes.IsRunning(virtiofsd));
        Assert.Empty(VmHarness.ProcessesUsing(sandbox.StateDirectory));
        Assert.Empty(Directory.EnumerateFileSystemEntries(sandbox.StateDirectory));
    }

    [Fact]
    public async Task A_QMP_socket_that_never_appears_is_DeadlineExceeded_and_leaves_no_process()
    {
        // Like StratoVirt binding QMP only after -daemonize, except this one never binds: the launcher exits 0 and the
        // daemon (a sleep in its own session) writes the pidfile, then nothing answers.
        var fake = Path.Combine(_harness.Root, "fake-vmm");
        File.WriteAllText(fake, """
            #!/bin/sh
            while [ $# -gt 0 ]; do case "$1" in -pidfile) shift; pf="$1";; esac; shift; done
            setsid sleep 300 </dev/null >/dev/null 2>&1 &
            echo $! > "$pf"; echo $! > "$pf.seen"
            exit 0
            """.Replace("\r", ""));
        File.SetUnixFileMode(fake, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var dir = Path.Combine(_harness.Root, "noqmp");
        Directory.CreateDirectory(dir);
        var (kernel, _) = TestPaths.Guest();
        var spec = new VmLaunchSpec { Id = "noqmp", StateDirectory = dir, Binary = fake, Kernel = kernel, StartTimeout = TimeSpan.FromSeconds(2) };

        var e = await Assert.ThrowsAsync<IsolaException>(() => new StratoVirtVmm().LaunchAsync(spec, CancellationToken.None));
        var daemon = int.Parse(File.ReadAllText(Path.Combine(dir, "vmm.pid.seen")).Trim());

        Assert.Equal(IsolaErrorCode.DeadlineExceeded, e.Code);
        Assert.Contains(Path.Combine(dir, "qmp.sock"), e.Message);
        Assert.Contains("noqmp", e.Message);
        Assert.False(Processes.IsRunning(daemon), $"the daemon pid {daemon} should have been killed");
        Assert.False(File.Exists(Path.Combine(dir, "vmm.pid")));
    }

    [Fact]
    public async Task A_VMM_that_never_daemonizes_is_killed_at_the_deadline()
    {
        var fake = Path.Combine(_harness.Root, "stuck-vmm");
        File.WriteAllText(fake, """
            #!/bin/sh
            while [ $# -gt 0 ]; do case "$1" in -pidfile) shift; pf="$1";; esac; shift; done
            echo $$ > "$pf.launcher"
            exec sleep 300
            """.Replace("\r", ""));
        File.SetUnixFileMode(fake, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var dir = Path.Combine(_harness.Root, "stuck");
        Directory.CreateDirectory(dir);
        var (kernel, _) = TestPaths.Guest();
        var spec = new VmLaunchSpec { Id = "stuck", StateDirectory = dir, Binary = fake, Kernel = kernel, StartTimeout = TimeSpan.FromSeconds(1) };

        var e = await Assert.ThrowsAsync<IsolaException>(() => new QemuVmm().LaunchAsync(spec, CancellationToken.None));
        var launcher = int.Parse(File.ReadAllText(Path.Combine(dir, "vmm.pid.launcher")).Trim());

        Assert.Equal(IsolaErrorCode.DeadlineExceeded, e.Code);
        Assert.Contains("no pidfile", e.Message);
        Assert.False(Processes.IsRunning(launcher), $"the launcher pid {launcher} should have been killed");
    }

    [Fact]
    public async Task A_VMM_that_fails_at_start_reports_its_error_and_leaves_nothing()
    {
        var options = VmHarness.GuestOptions(readiness: "none");
        options["Firmware"] = "/nonexistent/OVMF_CODE.fd";
        var controller = _harness.CreateController(options);
        var sandbox = _harness.NewSandbox("bad1");
        await controller.CreateAsync(sandbox, CancellationToken.None);

        var e = await Assert.ThrowsAsync<IsolaException>(() => controller.StartAsync(sandbox, CancellationToken.None));

        Assert.Equal(IsolaErrorCode.Internal, e.Code);
        Assert.Contains("OVMF_CODE.fd", e.Message);
        Assert.Contains("bad1", e.Message);
        Assert.Empty(Directory.GetFiles(sandbox.StateDirectory, "*.sock"));
        Assert.Empty(Directory.GetFiles(sandbox.StateDirectory, "*.pid"));
        Assert.Empty(VmHarness.ProcessesUsing(sandbox.StateDirectory));
    }

    [Fact]
    public async Task After_a_host_restart_the_VM_is_recovered_keeps_its_devices_and_stops()
    {
        var options = VmHarness.GuestOptions(readiness: "none");
        var first = _harness.CreateController(options);
        var sandbox = _harness.NewSandbox("restart1");
        var disk = Path.Combine(_harness.Root, "r.img");
        File.WriteAllBytes(disk, new byte[1 << 20]);
        await first.CreateAsync(sandbox, CancellationToken.None);
        var started = await first.StartAsync(sandbox, CancellationToken.None);
        await first.PrepareAsync(sandbox, VmControllerEndToEndTests.Request("c1", disk, new JsonObject().ToJsonString()), CancellationToken.None);

        // The host process goes away: its QMP connection closes, the VM keeps running.
        await ((IAsyncDisposable)first).DisposeAsync();
        var second = _harness.CreateController(options);
        var reloaded = VmHarness.Reload(sandbox);
        var status = await second.StatusAsync(reloaded, verbose: true, CancellationToken.None);
        var disk2 = Path.Combine(_harness.Root, "r2.img");
        File.WriteAllBytes(disk2, new byte[1 << 20]);
        var next = await second.PrepareAsync(reloaded, VmControllerEndToEndTests.Request("c2", disk2, new JsonObject().ToJsonString()), CancellationToken.None);
        var wait = second.WaitAsync(reloaded, CancellationToken.None);
        await second.StopAsync(reloaded, TimeSpan.FromSeconds(5), CancellationToken.None);
        var exit = await wait.WaitAsync(TimeSpan.FromSeconds(10));
        await second.ShutdownAsync(reloaded, CancellationToken.None);

        Assert.True(status.Ready);
        Assert.Equal(started.Pid, status.Pid);
        Assert.Contains("pcie.1", status.Info["plugged"]);
        Assert.Equal("0000:00:02.0", next.Rootfs[0].Source);
        Assert.Equal(0u, exit.Code);
        Assert.False(Processes.IsRunning(started.Pid));
        Assert.Empty(Directory.EnumerateFileSystemEntries(reloaded.StateDirectory));
    }

    [Fact]
    public async Task Recovery_of_a_VM_that_died_while_the_host_was_down_is_NotFound_and_Stop_succeeds()
    {
        var options = VmHarness.GuestOptions(readiness: "none");
        var first = _harness.CreateController(options);
        var sandbox = _harness.NewSandbox("gone1");
        await first.CreateAsync(sandbox, CancellationToken.None);
        var started = await first.StartAsync(sandbox, CancellationToken.None);
        await ((IAsyncDisposable)first).DisposeAsync();
        Native.LibC.Kill((int)started.Pid, Native.LibC.SIGKILL);
        while (Processes.IsRunning(started.Pid))
        {
            await Task.Delay(20);
        }

        var second = _harness.CreateController(options);
        var reloaded = VmHarness.Reload(sandbox);
        var wait = await Assert.ThrowsAsync<IsolaException>(() => second.WaitAsync(reloaded, CancellationToken.None));
        var status = await second.StatusAsync(reloaded, false, CancellationToken.None);
        await second.StopAsync(reloaded, TimeSpan.FromSeconds(1), CancellationToken.None);
        await second.ShutdownAsync(reloaded, CancellationToken.None);

        Assert.Equal(IsolaErrorCode.NotFound, wait.Code);
        Assert.False(status.Ready);
        Assert.Empty(Directory.EnumerateFileSystemEntries(reloaded.StateDirectory));
    }

    [Fact]
    public async Task Cancelling_the_last_Wait_releases_QMP_so_another_host_process_can_attach()
    {
        var options = VmHarness.GuestOptions(readiness: "none");
        var first = _harness.CreateController(options);
        var sandbox = _harness.NewSandbox("handover1");
        await first.CreateAsync(sandbox, CancellationToken.None);
        var started = await first.StartAsync(sandbox, CancellationToken.None);
        using var stopMonitoring = new CancellationTokenSource();
        var monitor = first.WaitAsync(sandbox, stopMonitoring.Token);

        // The first host stops its background Wait (as IsolaHost.DisposeAsync does) but is never disposed itself.
        await stopMonitoring.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => monitor);
        var second = _harness.CreateController(options);
        var reloaded = VmHarness.Reload(sandbox);
        var status = await second.StatusAsync(reloaded, false, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(20));
        await second.ShutdownAsync(reloaded, CancellationToken.None);

        Assert.True(status.Ready);
        Assert.Equal(started.Pid, status.Pid);
        Assert.False(Processes.IsRunning(started.Pid));
    }

    [Fact]
    public async Task A_VM_that_dies_before_Wait_attaches_is_NotFound_for_Wait()
    {
        var controller = _harness.CreateController(VmHarness.GuestOptions(readiness: "none"));
        var sandbox = _harness.NewSandbox("early1");
        await controller.CreateAsync(sandbox, CancellationToken.None);
        var started = await controller.StartAsync(sandbox, CancellationToken.None);

        Native.LibC.Kill((int)started.Pid, Native.LibC.SIGKILL);
        while (Processes.IsRunning(started.Pid))
        {
            await Task.Delay(20);
        }

        var e = await Assert.ThrowsAsync<IsolaException>(() => controller.WaitAsync(sandbox, CancellationToken.None));
        await controller.ShutdownAsync(sandbox, CancellationToken.None);

        Assert.Equal(IsolaErrorCode.NotFound, e.Code);
        Assert.Contains("early1", e.Message);
        Assert.Empty(Directory.EnumerateFileSystemEntries(sandbox.StateDirectory));
    }
}
