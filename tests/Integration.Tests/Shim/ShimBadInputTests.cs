namespace Isola.Integration.Tests.Shim;

/// <summary>Bad input through the host with the shim runtime: one-line errors naming what is wrong, nothing left.</summary>
public sealed class ShimBadInputTests : IAsyncLifetime
{
    private ShimHost _host = null!;

    public async Task InitializeAsync() => _host = await ShimHost.StartAsync();

    public async Task DisposeAsync() => await _host.DisposeAsync();

    [Fact]
    public async Task Container_errors_name_the_problem_and_leave_the_pod_as_it_was()
    {
        var sandbox = await _host.Host.Sandboxes.RunAsync(new SandboxSpec { Name = "strict" });
        var missingRootfs = Path.Combine(_host.Work, "no-rootfs");

        var noRootfs = await Assert.ThrowsAsync<IsolaException>(() => sandbox.Containers.RunAsync(new ContainerSpec { Rootfs = missingRootfs, Args = ["true"] }));
        var noCommand = await Assert.ThrowsAsync<IsolaException>(() => sandbox.Containers.RunAsync(new ContainerSpec { Rootfs = _host.Rootfs, Args = [] }));
        var badId = await Assert.ThrowsAsync<IsolaException>(() => sandbox.Containers.RunAsync(new ContainerSpec { Id = "../x", Rootfs = _host.Rootfs, Args = ["true"] }));
        var info = await sandbox.InspectAsync();

        Assert.Contains(missingRootfs, noRootfs.Message);
        Assert.All([noRootfs, noCommand, badId], e =>
        {
            Assert.Equal(IsolaErrorCode.InvalidArgument, e.Code);
            Assert.DoesNotContain('\n', e.Message);
        });
        Assert.Equal(SandboxState.Ready, info.State);
        Assert.Empty(info.Containers);
        var bundles = Path.Combine(_host.Root, sandbox.Id.Value, "bundles");
        Assert.True(!Directory.Exists(bundles) || Directory.GetDirectories(bundles).Length == 0, "a container bundle was left in " + bundles);
        await sandbox.RemoveAsync();
        Assert.Empty(_host.Leftovers(sandbox.Id.Value, [], info.TaskAddress));
    }

    [Fact]
    public async Task Sandbox_errors_name_the_problem_and_create_nothing()
    {
        var unknownRuntime = await Assert.ThrowsAsync<IsolaException>(() => _host.Host.Sandboxes.RunAsync(new SandboxSpec { Runtime = "no-such-runtime" }));
        var badId = await Assert.ThrowsAsync<IsolaException>(() => _host.Host.Sandboxes.RunAsync(new SandboxSpec { Id = "bad/id" }));
        var badNetns = await Assert.ThrowsAsync<IsolaException>(() => _host.Host.Sandboxes.RunAsync(new SandboxSpec { Network = "/run/netns/missing-ns" }));
        var first = await _host.Host.Sandboxes.RunAsync(new SandboxSpec { Name = "twice" });
        var second = await Assert.ThrowsAsync<IsolaException>(() => _host.Host.Sandboxes.RunAsync(new SandboxSpec { Name = "twice" }));

        Assert.Contains("no-such-runtime", unknownRuntime.Message);
        Assert.Contains("bad/id", badId.Message);
        Assert.Equal(IsolaErrorCode.InvalidArgument, badNetns.Code);
        Assert.Contains("/run/netns/missing-ns", badNetns.Message);
        Assert.Equal(IsolaErrorCode.AlreadyExists, second.Code);
        Assert.Contains("twice", second.Message);
        Assert.All([unknownRuntime, badId, badNetns, second], e => Assert.DoesNotContain('\n', e.Message));
        var left = await _host.Host.Sandboxes.ListAsync();
        Assert.Equal([first.Id], left.Select(s => s.Id));
        Assert.Equal([first.Id.Value], Directory.GetDirectories(_host.Root).Select(Path.GetFileName).Where(n => !n!.StartsWith('.')));
        await first.RemoveAsync();
    }
}
