using Isola.Hosting.Tests.Doubles;

namespace Isola.Hosting.Tests.Containers;

/// <summary>A controller's Prepare chooses the runtime options of a container's task (the shim controller: the pod's
/// OCI runtime); the host hands them to the executor's Create as they are, and only those.</summary>
public sealed class RuntimeOptionsTests : IDisposable
{
    private const string RuncOptions = "containerd.runc.v1.Options";
    private readonly TestRoot _t = new();

    public void Dispose() => _t.Dispose();

    [Fact]
    public async Task The_options_Prepare_returns_reach_the_executors_Create()
    {
        byte[] crun = [0x0a, 0x04, .. "crun"u8]; // containerd.runc.v1.Options { binary_name: "crun" }
        _t.Controller.RuntimeOptions = (RuncOptions, crun);
        await using var host = await _t.StartAsync();
        var sandbox = await host.Sandboxes.RunAsync(new SandboxSpec { Id = "sb1" });

        await sandbox.Containers.RunAsync(Spec());

        var sent = Assert.NotNull(_t.Tasks.Processes["c1"].Options);
        Assert.Equal(RuncOptions, sent.TypeUrl);
        Assert.Equal(crun, sent.Value);
    }

    [Fact]
    public async Task A_Prepare_without_options_creates_the_task_without_any()
    {
        await using var host = await _t.StartAsync();
        var sandbox = await host.Sandboxes.RunAsync(new SandboxSpec { Id = "sb1" });

        await sandbox.Containers.RunAsync(Spec());

        Assert.Null(_t.Tasks.Processes["c1"].Options);
    }

    private static ContainerSpec Spec() =>
        new() { Id = "c1", Rootfs = Path.Combine(Path.GetTempPath(), "isola-rootfs-unused"), Args = ["true"] };
}
