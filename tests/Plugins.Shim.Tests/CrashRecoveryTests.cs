using System.Diagnostics;
using Isola.Controllers;
using Isola.Plugins.Shim.Controller;
using Isola.Plugins.Shim.Tests.Infrastructure;

namespace Isola.Plugins.Shim.Tests;

/// <summary>
/// Teardown from whatever a dead host left: a record without the shim's address, a shim that may or may not answer, a
/// `runc init` blocked on the exec FIFO, processes in the pod's cgroup nobody knows about. Nothing may be left, and a
/// removal must never be wedged for good by a busy cgroup.
/// </summary>
[Collection(ShimCollection.Name)]
public sealed class CrashRecoveryTests : IAsyncLifetime
{
    private readonly PodHarness _pods = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _pods.DisposeAsync();

    [Theory]
    [InlineData(true, false)] // the record Create persisted; the shim still answers
    [InlineData(false, false)] // no controller data at all
    [InlineData(true, true)] // the shim died too (killed, or of SIGPIPE on its orphaned log FIFO)
    [InlineData(false, true)]
    public async Task A_host_killed_inside_the_pause_Create_leaves_nothing_after_Stop_and_Shutdown_by_the_next_host(bool createRecord, bool shimDead)
    {
        var sandbox = _pods.NewContext();
        var address = await CrashedStart.RunAsync(_pods, sandbox);
        var full = new Dictionary<string, string>(sandbox.ControllerData);
        var shim = ShimProcesses.FindLiveShim(sandbox.Id.Value, PodHarness.Namespace, full[ControllerDataKeys.ContainerdAddress]);
        Assert.NotNull(shim);
        Assert.Contains(Leftovers.Processes(sandbox.Id.Value), p => p.Contains("runc init", StringComparison.Ordinal)); // on the exec FIFO
        Assert.True(Directory.Exists(Path.Combine("/run/containerd/runc", PodHarness.Namespace, sandbox.Id.Value)));
        if (shimDead)
        {
            await ShimProcesses.KillAsync(shim.Value);
        }

        // The next host process, from the persisted record only.
        var record = _pods.NewContext(sandbox.Id, sandbox.Spec, createRecord ? full : new Dictionary<string, string>());
        await using var next = _pods.NewController();
        await next.StopAsync(record, TimeSpan.FromSeconds(2), CancellationToken.None);
        await next.ShutdownAsync(record, CancellationToken.None);
        await next.ShutdownAsync(record, CancellationToken.None); // idempotent

        Assert.Empty(Leftovers.Of(sandbox, [], Leftovers.SocketOf(address)));
        Assert.True(Leftovers.Gone(shim.Value), $"shim pid {shim} survived");
    }

    [Fact]
    public async Task A_process_that_joined_the_pods_cgroup_from_outside_is_killed_so_the_cgroup_goes()
    {
        var sandbox = await _pods.RunSandboxAsync();
        using var stray = Process.Start("sleep", "600");
        try
        {
            foreach (var dir in CgroupCleaner.Locations(sandbox.ControllerData[ControllerDataKeys.CgroupsPath]))
            {
                await File.WriteAllTextAsync(Path.Combine(dir, "cgroup.procs"), stray.Id.ToString(System.Globalization.CultureInfo.InvariantCulture));
            }

            // runc ends the pause, whose pid namespace holds only the pod's own processes: the stray one outlives it.
            await _pods.TeardownAsync(sandbox);

            Assert.True(stray.WaitForExit(5000), $"pid {stray.Id} in the pod's cgroup survived the teardown");
            Assert.Empty(Leftovers.Of(sandbox, [], Leftovers.SocketOf(sandbox.TaskAddress)));
        }
        finally
        {
            stray.Kill(); // a no-op once it is gone
        }
    }

    [Fact]
    public async Task Runc_state_of_a_create_killed_half_way_is_removed()
    {
        // `runc create` SIGKILLed early leaves its state directory with only the exec FIFO: `runc delete` cannot read it.
        var sandbox = _pods.NewContext();
        await _pods.Controller.CreateAsync(sandbox, CancellationToken.None);
        var state = Path.Combine("/run/containerd/runc", PodHarness.Namespace, sandbox.Id.Value);
        Directory.CreateDirectory(state);
        Assert.Equal(0, Native.LibC.mkfifo(Path.Combine(state, "exec.fifo"), Convert.ToUInt32("622", 8)));

        await _pods.Controller.ShutdownAsync(new SandboxContext(sandbox.Id, sandbox.Name, sandbox.Spec, sandbox.StateDirectory,
            new Dictionary<string, string>()), CancellationToken.None);

        Assert.False(Directory.Exists(state), $"{state} left");
        Assert.Empty(Leftovers.Of(sandbox, [], null));
    }

    [Fact]
    public async Task Shutdown_of_a_sandbox_that_never_got_a_bundle_is_a_no_op_twice()
    {
        var sandbox = _pods.NewContext();

        await _pods.Controller.StopAsync(sandbox, TimeSpan.FromSeconds(1), CancellationToken.None);
        await _pods.Controller.ShutdownAsync(sandbox, CancellationToken.None);
        await _pods.Controller.ShutdownAsync(sandbox, CancellationToken.None);

        Assert.Empty(Leftovers.Of(sandbox, [], null));
        Assert.True(Directory.Exists(sandbox.StateDirectory)); // the host's directory is the host's to remove
    }

    [Theory]
    [InlineData("/", false)]
    [InlineData("/isola-test", false)]
    [InlineData("/isola-test/other-sandbox", false)]
    [InlineData("/isola-test/abc-sb1/..", false)]
    [InlineData("/isola-test/sb1", true)]
    [InlineData("/isola-test/0123456789ab-sb1", true)]
    public void Only_a_cgroup_named_after_the_sandbox_is_ever_emptied_by_force(string cgroupsPath, bool owned) =>
        Assert.Equal(owned, ShimController.IsPodCgroup(cgroupsPath, "sb1"));
}
