using Google.Protobuf.WellKnownTypes;
using Isola.Plugins.StratoVirt.Controller;
using Isola.Plugins.StratoVirt.Tests.Qmp;
using Isola.Plugins.StratoVirt.Vmm;
using Isola.Ttrpc.Server;
using Isola.Vmm;

namespace Isola.Plugins.StratoVirt.Tests.Controller;

/// <summary>
/// Agent readiness: Kuasar's vmm-task answers <c>grpc.SandboxService/Check</c> over ttrpc. The test guest has no
/// agent, so the agent side is a real ttrpc server (Isola.Ttrpc) on a Unix socket, and the VM is a real QEMU (-S).
/// </summary>
public sealed class AgentReadinessTests : IAsyncLifetime
{
    private QemuPeer _qemu = null!;
    private IVmInstance _vm = null!;

    public async Task InitializeAsync()
    {
        _qemu = await QemuPeer.StartAsync();
        var spec = new VmLaunchSpec { Id = "agent1", StateDirectory = _qemu.Directory, Binary = TestPaths.Qemu, Kernel = "/none" };
        _vm = await new QemuVmm().AttachAsync(spec, new Dictionary<string, string>
        {
            [RecoveryKeys.Vmm] = _qemu.Process.ToString(),
            [RecoveryKeys.Qmp] = _qemu.QmpSocket,
        }, CancellationToken.None);
    }

    public async Task DisposeAsync()
    {
        await _vm.DisposeAsync();
        await _qemu.DisposeAsync();
    }

    [Fact]
    public async Task Ready_once_the_agent_answers_Check_even_if_it_starts_late()
    {
        var socket = Path.Combine(_qemu.Directory, "agent.sock");
        var checks = 0;
        await using var agent = new TtrpcServer();
        agent.AddUnary(ReadinessProbe.SandboxService, ReadinessProbe.CheckMethod, Empty.Parser, (Empty _, TtrpcCallContext _) =>
        {
            Interlocked.Increment(ref checks);
            return Task.FromResult(new Empty());
        });

        var probe = ReadinessProbe.WaitAsync("agent1", Readiness.Agent, _vm, "ttrpc+unix://" + socket, Path.Combine(_qemu.Directory, "console.log"),
            "", TimeSpan.FromSeconds(20), CancellationToken.None);
        await Task.Delay(300);
        var earlyDone = probe.IsCompleted;
        agent.ListenUnix(socket);
        await probe.WaitAsync(TimeSpan.FromSeconds(20));

        Assert.False(earlyDone, "nothing listened yet, so the probe must still be waiting");
        Assert.Equal(1, checks);
    }

    [Fact]
    public async Task An_agent_that_never_listens_is_DeadlineExceeded_naming_the_address()
    {
        var socket = Path.Combine(_qemu.Directory, "agent.sock");

        var e = await Assert.ThrowsAsync<IsolaException>(() => ReadinessProbe.WaitAsync("agent1", Readiness.Agent, _vm, "ttrpc+unix://" + socket,
            Path.Combine(_qemu.Directory, "console.log"), "", TimeSpan.FromSeconds(1), CancellationToken.None));

        Assert.Equal(IsolaErrorCode.DeadlineExceeded, e.Code);
        Assert.Contains(socket, e.Message);
        Assert.Contains("grpc.SandboxService/Check", e.Message);
    }

    [Fact]
    public async Task A_peer_without_the_sandbox_service_fails_at_once_naming_it()
    {
        var socket = Path.Combine(_qemu.Directory, "agent.sock");
        await using var agent = new TtrpcServer();
        agent.ListenUnix(socket); // serves nothing: Check is answered "unimplemented"

        var e = await Assert.ThrowsAsync<IsolaException>(() => ReadinessProbe.WaitAsync("agent1", Readiness.Agent, _vm, "ttrpc+unix://" + socket,
            Path.Combine(_qemu.Directory, "console.log"), "", TimeSpan.FromSeconds(30), CancellationToken.None)).WaitAsync(TimeSpan.FromSeconds(5));

        Assert.Equal(IsolaErrorCode.Unimplemented, e.Code);
        Assert.Contains(socket, e.Message);
    }

    [Fact]
    public async Task A_VMM_that_exits_while_waiting_fails_fast_with_Unavailable()
    {
        var probe = ReadinessProbe.WaitAsync("agent1", Readiness.Agent, _vm, "ttrpc+unix://" + Path.Combine(_qemu.Directory, "none.sock"),
            Path.Combine(_qemu.Directory, "console.log"), "", TimeSpan.FromSeconds(30), CancellationToken.None);

        Native.LibC.Kill(_qemu.Process.Pid, Native.LibC.SIGKILL);
        var e = await Assert.ThrowsAsync<IsolaException>(() => probe.WaitAsync(TimeSpan.FromSeconds(10)));

        Assert.Equal(IsolaErrorCode.Unavailable, e.Code);
        Assert.Contains("exited before the guest was ready", e.Message);
    }
}
