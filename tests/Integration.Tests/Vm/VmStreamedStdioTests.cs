using System.Diagnostics;

namespace Isola.Integration.Tests.Vm;

/// <summary>
/// A VM sandbox without a shared filesystem (`SharedFs: false`, no virtiofsd): the container's rootfs is a hot-plugged
/// ext4 image, its config.json travels in Create's options, and its stdin, stdout and stderr are streamed over the
/// agent channel (containerd.services.streaming.v1) between the host's files and the process in the guest.
/// </summary>
[Collection(VmCollection.Name)]
public sealed class VmStreamedStdioTests : IAsyncLifetime
{
    private VmHost _vm = null!;

    public async Task InitializeAsync() => _vm = await VmHost.StartAsync(sharedFs: false);

    public async Task DisposeAsync() => await _vm.DisposeAsync();

    [Fact]
    public async Task Without_a_shared_filesystem_stdio_is_streamed_over_the_agent_channel_for_containers_and_execs()
    {
        var image = Path.Combine(_vm.Work, "rootfs.ext4");
        VmTools.Run("mkfs.ext4", "-q", "-F", "-d", _vm.Rootfs, image, "32M");
        var sandbox = await _vm.Host.Sandboxes.RunAsync(new SandboxSpec { Runtime = VmGuest.Runtime });
        var stdin = Path.Combine(_vm.Work, "stdin.txt");
        await File.WriteAllTextAsync(stdin, "typed-in\n");
        var io = new StdioSpec(stdin, Path.Combine(_vm.Work, "cat.out"), Path.Combine(_vm.Work, "cat.err"));

        var printer = await sandbox.Containers.RunAsync(new ContainerSpec
        {
            Rootfs = image,
            ReadOnlyRootfs = true,
            Args = ["sh", "-c", "echo out-line; echo err-line >&2; exit 4"],
        });
        var printerExit = await printer.WaitAsync();
        var printerOut = await File.ReadAllTextAsync(_vm.Log(sandbox.Id, printer.Id));
        var printerErr = await File.ReadAllTextAsync(_vm.Log(sandbox.Id, printer.Id, "stderr.log"));
        await printer.DeleteAsync();

        var cat = await sandbox.Containers.RunAsync(new ContainerSpec { Rootfs = image, ReadOnlyRootfs = true, Args = ["sh", "-c", "cat; echo after-eof"], Stdio = io });
        var catExit = await cat.WaitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        var catOut = await File.ReadAllTextAsync(io.Stdout);
        await cat.DeleteAsync();

        var sleeper = await sandbox.Containers.RunAsync(new ContainerSpec { Rootfs = image, ReadOnlyRootfs = true, Args = ["sleep", "600"] });
        var exec = await sleeper.ExecAsync(new ExecSpec { ExecId = "x1", Args = ["sh", "-c", "echo in-exec; echo exec-err >&2; exit 6"] });
        var execOut = await File.ReadAllTextAsync(_vm.Log(sandbox.Id, sleeper.Id, "exec-x1.stdout.log"));
        var execErr = await File.ReadAllTextAsync(_vm.Log(sandbox.Id, sleeper.Id, "exec-x1.stderr.log"));
        await sleeper.DeleteAsync(force: true);

        Assert.Equal(4u, printerExit.Code);
        Assert.Equal("out-line\n", printerOut);
        Assert.Equal("err-line\n", printerErr);
        Assert.Equal(0u, catExit.Code);
        Assert.Equal("typed-in\nafter-eof\n", catOut);
        Assert.Equal(6u, exec.Code);
        Assert.Equal("in-exec\n", execOut);
        Assert.Equal("exec-err\n", execErr);
        Assert.False(Directory.Exists(Path.Combine(_vm.Root, sandbox.Id.Value, "shared")), "no shared directory without a shared filesystem");
        var id = sandbox.Id;
        await sandbox.RemoveAsync();
        Assert.Empty(VmLeftovers.Of(_vm.Root, id));
    }

    [Fact]
    public async Task Output_written_while_no_host_process_is_connected_reaches_the_file_through_the_next_host()
    {
        var image = Path.Combine(_vm.Work, "rootfs.ext4");
        VmTools.Run("mkfs.ext4", "-q", "-F", "-d", _vm.Rootfs, image, "32M");
        var sandbox = await _vm.Host.Sandboxes.RunAsync(new SandboxSpec { Runtime = VmGuest.Runtime });
        var c = await sandbox.Containers.RunAsync(new ContainerSpec { Rootfs = image, Args = ["sh", "-c", "echo before; sleep 4; echo after"] });
        var log = _vm.Log(sandbox.Id, c.Id);
        await VmTools.WaitForAsync(() => File.Exists(log) && File.ReadAllText(log) == "before\n", "the first line through the first host", TimeSpan.FromSeconds(60));

        // The first host's connection closes: "after" is written while no host is connected, and held in the guest.
        var atRestart = "";
        var beforeReattach = "";
        await _vm.RestartAsync(async () =>
        {
            atRestart = await File.ReadAllTextAsync(log);
            await Task.Delay(TimeSpan.FromSeconds(6));
            beforeReattach = await File.ReadAllTextAsync(log);
        });
        var again = await _vm.Host.Sandboxes.GetAsync(sandbox.Id.Value);
        var container = await again.Containers.GetAsync(c.Id);
        var exit = await container.WaitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        var output = await File.ReadAllTextAsync(log);

        Assert.Equal("before\n", atRestart);
        Assert.Equal("before\n", beforeReattach);
        Assert.Equal(0u, exit.Code);
        Assert.Equal("before\nafter\n", output);
        await again.RemoveAsync();
        Assert.Empty(VmLeftovers.Of(_vm.Root, sandbox.Id));
    }

    [Fact]
    public async Task Without_a_shared_filesystem_a_directory_rootfs_is_refused_naming_the_container_and_leaves_nothing()
    {
        var sandbox = await _vm.Host.Sandboxes.RunAsync(new SandboxSpec { Runtime = VmGuest.Runtime });

        var error = await Assert.ThrowsAsync<IsolaException>(() =>
            sandbox.Containers.RunAsync(new ContainerSpec { Id = "dir-rootfs", Rootfs = _vm.Rootfs, Args = ["true"] }));
        var containers = await sandbox.Containers.ListAsync();

        Assert.Equal(IsolaErrorCode.FailedPrecondition, error.Code);
        Assert.Contains("dir-rootfs", error.Message, StringComparison.Ordinal);
        Assert.Contains("SharedFs", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
        Assert.Empty(containers);
        Assert.False(Directory.Exists(Path.Combine(_vm.Root, sandbox.Id.Value, "containers", "dir-rootfs")));
        var id = sandbox.Id;
        await sandbox.RemoveAsync();
        Assert.Empty(VmLeftovers.Of(_vm.Root, id));
    }
}
