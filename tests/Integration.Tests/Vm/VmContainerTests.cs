using System.Diagnostics;
using Isola.TestSupport;

namespace Isola.Integration.Tests.Vm;

/// <summary>Containers in VM sandboxes, end to end: the host API, the `vm` controller, QEMU under TCG, isola-agent as
/// the guest's init serving the Task API on virtio-serial, and Debian's runc inside the guest.</summary>
[Collection(VmCollection.Name)]
public sealed class VmContainerTests : IAsyncLifetime
{
    private VmHost _vm = null!;

    public async Task InitializeAsync() => _vm = await VmHost.StartAsync();

    public async Task DisposeAsync() => await _vm.DisposeAsync();

    [Fact]
    public async Task Containers_in_a_vm_print_report_exit_codes_exec_and_die_by_signal()
    {
        var sandbox = await _vm.Host.Sandboxes.RunAsync(new SandboxSpec { Runtime = VmGuest.Runtime });

        var hello = await sandbox.Containers.RunAsync(new ContainerSpec { Rootfs = _vm.Rootfs, Args = ["echo", "hello from the guest"] });
        var helloExit = await hello.WaitAsync();
        var helloOut = await File.ReadAllTextAsync(_vm.Log(sandbox.Id, hello.Id));
        var three = await sandbox.Containers.RunAsync(new ContainerSpec { Rootfs = _vm.Rootfs, Args = ["sh", "-c", "echo oops >&2; exit 3"] });
        var threeExit = await three.WaitAsync();
        var threeErr = await File.ReadAllTextAsync(_vm.Log(sandbox.Id, three.Id, "stderr.log"));

        // Two long-running containers in the same VM; exec into one of them.
        var first = await sandbox.Containers.RunAsync(new ContainerSpec { Rootfs = _vm.Rootfs, Args = ["sleep", "600"] });
        var second = await sandbox.Containers.RunAsync(new ContainerSpec { Rootfs = _vm.Rootfs, Args = ["sleep", "600"] });
        var exec = await first.ExecAsync(new ExecSpec { ExecId = "x1", Args = ["sh", "-c", "echo in-exec; hostname; exit 6"] });
        var execOut = await File.ReadAllTextAsync(_vm.Log(sandbox.Id, first.Id, "exec-x1.stdout.log"));
        var running = await second.InspectAsync();
        await first.KillAsync(9);
        var killed = await first.WaitAsync();
        // sleep is the init of its PID namespace and ignores SIGTERM, so Stop escalates to SIGKILL.
        await second.StopAsync(TimeSpan.FromSeconds(1));
        var stopped = await second.InspectAsync();

        Assert.Equal(SandboxState.Ready, sandbox.Info.State);
        Assert.Equal(0u, helloExit.Code);
        Assert.Equal("hello from the guest\n", helloOut);
        Assert.Equal(3u, threeExit.Code);
        Assert.Equal("oops\n", threeErr);
        Assert.Equal(ContainerState.Running, running.State);
        Assert.Equal(6u, exec.Code);
        Assert.StartsWith("in-exec\n", execOut);
        Assert.Equal(137u, killed.Code);
        Assert.Equal(137u, stopped.Exit?.Code);

        var id = sandbox.Id;
        await sandbox.RemoveAsync();
        Assert.Empty(VmLeftovers.Of(_vm.Root, id));
    }

    [Fact]
    public async Task Stdin_from_a_host_file_reaches_a_container_in_a_vm_whose_output_goes_through_the_share()
    {
        var sandbox = await _vm.Host.Sandboxes.RunAsync(new SandboxSpec { Runtime = VmGuest.Runtime });
        var io = new StdioSpec(Path.Combine(_vm.Work, "in.txt"), Path.Combine(_vm.Work, "cat.out"), "");
        await File.WriteAllTextAsync(io.Stdin, "line-1\nline-2\n");

        var c = await sandbox.Containers.RunAsync(new ContainerSpec { Rootfs = _vm.Rootfs, Args = ["sh", "-c", "cat; echo eof"], Stdio = io });
        var exit = await c.WaitAsync().WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(0u, exit.Code);
        Assert.Equal("line-1\nline-2\neof\n", await File.ReadAllTextAsync(io.Stdout));
        var id = sandbox.Id;
        await sandbox.RemoveAsync();
        Assert.Empty(VmLeftovers.Of(_vm.Root, id));
    }

    [Fact]
    public async Task A_container_on_a_hot_plugged_ext4_image_runs_and_its_device_is_unplugged_when_it_is_removed()
    {
        var image = Path.Combine(_vm.Work, "rootfs.ext4");
        VmTools.Run("mkfs.ext4", "-q", "-F", "-d", _vm.Rootfs, image, "32M");
        var sandbox = await _vm.Host.Sandboxes.RunAsync(new SandboxSpec { Runtime = VmGuest.Runtime });
        var console = Path.Combine(_vm.Root, sandbox.Id.Value, "console.log");

        var c = await sandbox.Containers.RunAsync(new ContainerSpec { Rootfs = image, Args = ["sh", "-c", "echo from-ext4; grep ' / ' /proc/mounts"] });
        var exit = await c.WaitAsync();
        var output = await File.ReadAllTextAsync(_vm.Log(sandbox.Id, c.Id));
        var added = File.ReadAllText(console);
        await c.DeleteAsync();
        await VmTools.WaitForAsync(() => File.ReadAllText(console).Contains("ISOLA-BLOCK-REMOVED", StringComparison.Ordinal), "the guest to see the unplug");

        Assert.Equal(0u, exit.Code);
        Assert.StartsWith("from-ext4\n", output);
        Assert.Contains("ext4", output);
        Assert.Contains("ISOLA-BLOCK-ADDED vda", added);
        var id = sandbox.Id;
        await sandbox.RemoveAsync();
        Assert.Empty(VmLeftovers.Of(_vm.Root, id));
    }

    [Fact]
    public async Task A_new_host_finds_a_running_vm_container_execs_into_it_and_removes_it()
    {
        var sandbox = await _vm.Host.Sandboxes.RunAsync(new SandboxSpec { Runtime = VmGuest.Runtime });
        var c = await sandbox.Containers.RunAsync(new ContainerSpec { Rootfs = _vm.Rootfs, Args = ["sleep", "600"] });
        var id = sandbox.Id;

        await _vm.RestartAsync();
        var again = await _vm.Host.Sandboxes.GetAsync(id.Value);
        var container = await again.Containers.GetAsync(c.Id);
        var state = await container.InspectAsync();
        var exec = await container.ExecAsync(new ExecSpec { ExecId = "after-restart", Args = ["sh", "-c", "echo still-here"] });
        var execOut = await File.ReadAllTextAsync(_vm.Log(id, c.Id, "exec-after-restart.stdout.log"));
        await container.DeleteAsync(force: true);
        var left = await again.Containers.ListAsync();
        await again.RemoveAsync();

        Assert.Equal(ContainerState.Running, state.State);
        Assert.Equal(0u, exec.Code);
        Assert.Equal("still-here\n", execOut);
        Assert.Empty(left);
        Assert.Empty(VmLeftovers.Of(_vm.Root, id));
    }

    [Fact]
    public async Task A_SIGKILLed_vmm_stops_the_sandbox_and_remove_leaves_nothing()
    {
        var sandbox = await _vm.Host.Sandboxes.RunAsync(new SandboxSpec { Runtime = VmGuest.Runtime });
        await sandbox.Containers.RunAsync(new ContainerSpec { Rootfs = _vm.Rootfs, Args = ["sleep", "600"] });
        var pid = sandbox.Info.Pid;

        Process.GetProcessById((int)pid).Kill();
        var exit = await sandbox.WaitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        var info = await sandbox.InspectAsync();
        var id = sandbox.Id;
        await sandbox.RemoveAsync();

        Assert.Equal(137u, exit.Code);
        Assert.Equal(SandboxState.Stopped, info.State);
        Assert.Empty(VmLeftovers.Of(_vm.Root, id));
    }

    [Fact]
    public async Task Bad_container_input_gets_one_line_errors_naming_the_container_and_leaves_nothing()
    {
        var sandbox = await _vm.Host.Sandboxes.RunAsync(new SandboxSpec { Runtime = VmGuest.Runtime });
        var shared = Path.Combine(_vm.Root, sandbox.Id.Value, "shared");

        var noRootfs = await Assert.ThrowsAsync<IsolaException>(() =>
            sandbox.Containers.RunAsync(new ContainerSpec { Id = "norootfs", Rootfs = Path.Combine(_vm.Work, "missing"), Args = ["true"] }));
        var noCommand = await Assert.ThrowsAsync<IsolaException>(() =>
            sandbox.Containers.RunAsync(new ContainerSpec { Id = "nocmd", Rootfs = _vm.Rootfs, Args = ["/nope"] }));
        var unknown = await Assert.ThrowsAsync<IsolaException>(() => sandbox.Containers.GetAsync("ghost"));
        var containers = await sandbox.Containers.ListAsync();
        // The share holds the pod's hostname, hosts and resolv.conf, and one directory per prepared container.
        var bundles = Directory.Exists(shared) ? Directory.GetDirectories(shared) : [];

        Assert.Equal(IsolaErrorCode.NotFound, noRootfs.Code);
        Assert.Contains("norootfs", noRootfs.Message);
        Assert.Contains("nocmd", noCommand.Message);
        Assert.Contains("/nope", noCommand.Message);
        Assert.Equal(IsolaErrorCode.NotFound, unknown.Code);
        Assert.Contains("ghost", unknown.Message);
        Assert.All([noRootfs.Message, noCommand.Message, unknown.Message], m => Assert.DoesNotContain('\n', m));
        Assert.Empty(containers);
        Assert.Empty(bundles);
        var id = sandbox.Id;
        await sandbox.RemoveAsync();
        Assert.Empty(VmLeftovers.Of(_vm.Root, id));
    }
}
