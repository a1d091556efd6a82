using Isola.TaskApi.Protos.Task;
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
        var e = await Assert.ThrowsAsync<IsolaException>(() => Agent.CallAsync("Create", new CreateTaskRequest
        {
            Id = id,
            Bundle = bundle,
            Rootfs = { new ProtoMount { Type = "bind", Source = TestBundle.SharedRootfs, Options = { "rbind", "ro" } } },
        }, CreateTaskResponse.Parser));
        Assert.Contains(id, e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(File.ReadAllLines("/proc/self/mountinfo"), line => line.Split(' ')[4] == Path.Combine(bundle, "rootfs"));
        AssertNothingLeft(id);
    }
}
