using Isola.Plugins.StratoVirt.Tests.Qmp;
using Isola.Plugins.StratoVirt.Vmm;
using Isola.Vmm;

namespace Isola.Plugins.StratoVirt.Tests.Vmm;

/// <summary>A VM handle whose QMP command timed out: the connection is given up and the handle connects again, so the
/// next operation works and a Wait still learns the exit code from SHUTDOWN. The "VMM process" is a real sleep.</summary>
public sealed class QmpReconnectTests : AttachedVmTestBase
{
    public QmpReconnectTests()
        : base("sv-reconnect")
    {
    }

    [Fact]
    public async Task After_a_timed_out_command_the_vm_reconnects_and_keeps_working()
    {
        await using var server = new StratoVirtQmpServer(QmpSocket, ["pcie.1"]);
        server.ReplyDelays["stop"] = TimeSpan.FromSeconds(5);
        await using var vm = await AttachAsync(server);

        var timedOut = await Assert.ThrowsAsync<IsolaException>(() => vm.PauseAsync(CancellationToken.None));
        var status = await vm.StatusAsync(CancellationToken.None);
        await vm.ResumeAsync(CancellationToken.None);

        Assert.Equal(IsolaErrorCode.DeadlineExceeded, timedOut.Code);
        Assert.Equal("running", status.Status);
        Assert.Equal(2, server.Connections);
        Assert.Empty(server.Violations);
    }

    [Fact]
    public async Task A_timed_out_command_reconnects_at_once_so_events_keep_arriving_without_another_operation()
    {
        await using var server = new StratoVirtQmpServer(QmpSocket, ["pcie.1"]);
        server.ReplyDelays["stop"] = TimeSpan.FromSeconds(5);
        await using var vm = await AttachAsync(server);

        await Assert.ThrowsAsync<IsolaException>(() => vm.PauseAsync(CancellationToken.None));

        // Nothing else is asked of the VM: only the handle's own reconnect can open the second connection.
        await Controller.VmHarness.UntilAsync(() => server.Connections == 2, TimeSpan.FromSeconds(10), "the VM handle to reconnect");
        Assert.Empty(server.Violations);
    }

    private Task<IVmInstance> AttachAsync(StratoVirtQmpServer server) =>
        AttachAsync(server, "sv-reconnect", "q35", new Dictionary<string, string> { [VmSettings.QmpTimeoutKey] = "00:00:00.500" });
}
