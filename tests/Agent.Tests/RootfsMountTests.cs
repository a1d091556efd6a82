using Isola.TaskApi.Protos.Task;
using Isola.Ttrpc;
using ProtoMount = Isola.TaskApi.Protos.Types.Mount;

namespace Isola.Agent.Tests;

public sealed class RootfsMountTests : AgentTestBase
{
    [Fact]
    public async Task A_bind_rootfs_mount_is_mounted_at_bundle_rootfs_and_unmounted_on_Delete()
    {
        var id = TestBundle.NewId("bindroot");
        var bundle = TestBundle.Create(WorkDir, id, ["sh", "-c", "ls /bin/busybox"], ownRootfs: true);
        var stdout = Path.Combine(WorkDir, id + ".out");
        await Agent.CallAsync("Create", new CreateTaskRequest
        {
            Id = id,
            Bundle = bundle,
            Stdout = stdout,
            Rootfs = { new ProtoMount { Type = "bind", Source = TestBundle.SharedRootfs, Options = { "rbind", "ro" } } },
        }, CreateTaskResponse.Parser);
        var rootfs = Path.Combine(bundle, "rootfs");
        Assert.Contains(File.ReadAllLines("/proc/self/mountinfo"), line => line.Split(' ')[4] == rootfs);
        await StartAsync(id);
        Assert.Equal(0u, (await WaitAsync(id)).ExitStatus);
        Assert.Equal("/bin/busybox\n", await File.ReadAllTextAsync(stdout));
        await DeleteAsync(id);
        Assert.DoesNotContain(File.ReadAllLines("/proc/self/mountinfo"), line => line.Split(' ')[4] == rootfs);
        AssertNothingLeft(id);
    }

    [Fact]
    public async Task A_failed_Create_unmounts_the_rootfs()
    {
        var id = TestBundle.NewId("bindfail");
        var bundle = TestBundle.Create(WorkDir, id, ["/nope"], ownRootfs: true);
        var e = await Assert.ThrowsAsync<TtrpcException>(() => Agent.CallAsync("Create", new CreateTaskRequest
        {
            Id = id,
            Bundle = bundle,
            Rootfs = { new ProtoMount { Type = "bind", Source = TestBundle.SharedRootfs, Options = { "rbind", "ro" } } },
        }, CreateTaskResponse.Parser));
        Assert.Contains(id, e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(File.ReadAllLines("/proc/self/mountinfo"), line => line.Split(' ')[4] == Path.Combine(bundle, "rootfs"));
        AssertNothingLeft(id);
    }

    [Fact]
    public async Task An_ext4_block_device_is_mounted_as_the_rootfs_with_its_options()
    {
        // What a guest does with a hot-plugged disk once its PCI address is resolved, here with a loop device.
        TestSupport.Peers.Require(("mkfs.ext4", "e2fsprogs"), ("losetup", "mount"));
        var image = Path.Combine(WorkDir, "rootfs.ext4");
        Run("mkfs.ext4", "-q", "-d", TestBundle.SharedRootfs, image, "32M");
        var device = Run("losetup", "--find", "--show", image).Trim();
        try
        {
            var id = TestBundle.NewId("ext4root");
            var bundle = TestBundle.Create(WorkDir, id, ["sh", "-c", "grep ' / ' /proc/mounts"], ownRootfs: true);
            var stdout = Path.Combine(WorkDir, id + ".out");
            await Agent.CallAsync("Create", new CreateTaskRequest
            {
                Id = id,
                Bundle = bundle,
                Stdout = stdout,
                Rootfs = { new ProtoMount { Type = "ext4", Source = device, Options = { "ro", "noatime" } } },
            }, CreateTaskResponse.Parser);
            await StartAsync(id);
            Assert.Equal(0u, (await WaitAsync(id)).ExitStatus);
            var root = await File.ReadAllTextAsync(stdout);
            Assert.Contains("ext4 ro", root, StringComparison.Ordinal);
            Assert.Contains("noatime", root, StringComparison.Ordinal);
            await DeleteAsync(id);
            Assert.DoesNotContain(File.ReadAllLines("/proc/self/mountinfo"), line => line.Split(' ')[4] == Path.Combine(bundle, "rootfs"));
            AssertNothingLeft(id);
        }
        finally
        {
            Run("losetup", "-d", device);
        }
    }

    private static string Run(string program, params string[] args)
    {
        var start = new System.Diagnostics.ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = System.Diagnostics.Process.Start(start)!;
        var error = process.StandardError.ReadToEndAsync();
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"{program} {string.Join(' ', args)}: {error.Result}");
        return output;
    }
}
