using System.Diagnostics;
using Isola.Plugins.Sandboxer.Tests.Kuasar;
using Isola.SandboxApi.V1;

namespace Isola.Plugins.Sandboxer.Tests;

/// <summary>The sandboxer going away, coming back, hanging, or never having been there.</summary>
public sealed class FaultTests
{
    [Fact]
    public async Task Socket_disappearing_fails_Wait_with_Unavailable_and_recovers_without_recreate()
    {
        await using var server = await FakeSandboxerServer.StartNewAsync(FakeKind.KuasarV1);
        var controller = ControllerHarness.Create(server.SocketPath);
        var sandbox = ControllerHarness.Sandbox(ControllerHarness.NewId());
        await controller.CreateAsync(sandbox, CancellationToken.None);
        await controller.StartAsync(sandbox, CancellationToken.None);
        var wait = controller.WaitAsync(sandbox, CancellationToken.None);

        await server.StopAsync();

        var lost = await Assert.ThrowsAsync<IsolaException>(() => wait.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.True(lost.Code == IsolaErrorCode.Unavailable, lost.ToString());
        var status = await Assert.ThrowsAsync<IsolaException>(() => controller.StatusAsync(sandbox, false, CancellationToken.None));
        Assert.Equal(IsolaErrorCode.Unavailable, status.Code);
        Assert.Contains(server.SocketPath, status.Message);
        Assert.Contains(sandbox.Id.Value, status.Message);
        Assert.DoesNotContain("localhost:80", status.Message);

        await server.StartAsync();

        Assert.True((await controller.StatusAsync(sandbox, false, CancellationToken.None)).Ready);
        var rearmed = controller.WaitAsync(sandbox, CancellationToken.None);
        await controller.StopAsync(sandbox, TimeSpan.Zero, CancellationToken.None);
        Assert.Equal(137u, (await rearmed.WaitAsync(TimeSpan.FromSeconds(10))).Code);
        Assert.Single(server.State.All<ControllerCreateRequest>());
        Assert.Single(server.State.All<ControllerStartRequest>());
    }

    [Fact]
    public async Task A_server_that_never_answers_gives_DeadlineExceeded_within_the_configured_timeout()
    {
        await using var server = await FakeSandboxerServer.StartNewAsync(FakeKind.Silent);
        var controller = ControllerHarness.Create(server.SocketPath, api: "auto", timeout: "00:00:01");
        var sandbox = ControllerHarness.Sandbox(ControllerHarness.NewId());

        var clock = Stopwatch.StartNew();
        var e = await Assert.ThrowsAsync<IsolaException>(() => controller.CreateAsync(sandbox, CancellationToken.None));
        clock.Stop();

        Assert.Equal(IsolaErrorCode.DeadlineExceeded, e.Code);
        Assert.Contains(server.SocketPath, e.Message);
        Assert.Contains(sandbox.Id.Value, e.Message);
        // The configured 1 s deadline, not gRPC's default of none; generous slack for a loaded CI machine.
        Assert.InRange(clock.Elapsed, TimeSpan.FromMilliseconds(900), TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task A_missing_socket_is_Unavailable_naming_the_socket_and_sandbox()
    {
        var path = Path.Combine(Path.GetTempPath(), "isola-sbx-missing-" + Guid.NewGuid().ToString("N")[..8] + ".sock");
        var controller = ControllerHarness.Create("unix://" + path, api: "v1");
        var sandbox = ControllerHarness.Sandbox(ControllerHarness.NewId());

        var e = await Assert.ThrowsAsync<IsolaException>(() => controller.StartAsync(sandbox, CancellationToken.None));

        Assert.Equal(IsolaErrorCode.Unavailable, e.Code);
        Assert.Contains(path, e.Message);
        Assert.Contains(sandbox.Id.Value, e.Message);
        Assert.DoesNotContain("localhost", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public async Task A_create_that_never_connected_is_remembered_in_ControllerData_so_a_later_Shutdown_needs_no_sandboxer()
    {
        var path = Path.Combine(Path.GetTempPath(), "isola-sbx-missing-" + Guid.NewGuid().ToString("N")[..8] + ".sock");
        var sandbox = ControllerHarness.Sandbox(ControllerHarness.NewId());

        var e = await Assert.ThrowsAsync<IsolaException>(() => ControllerHarness.Create("unix://" + path).CreateAsync(sandbox, CancellationToken.None));
        Assert.Contains("no such socket", e.Message);

        // A new controller (the host restarted) gets the persisted bag back; the sandboxer is still not there.
        var restored = ControllerHarness.Sandbox(sandbox.Id, data: new Dictionary<string, string>(sandbox.ControllerData));
        await ControllerHarness.Create("unix://" + path).ShutdownAsync(restored, CancellationToken.None);
        // Without the mark, the same Shutdown has to reach the sandboxer.
        var unmarked = ControllerHarness.Sandbox(sandbox.Id);
        var shutdown = await Assert.ThrowsAsync<IsolaException>(() => ControllerHarness.Create("unix://" + path).ShutdownAsync(unmarked, CancellationToken.None));
        Assert.Equal(IsolaErrorCode.Unavailable, shutdown.Code);
    }

    [Fact]
    public async Task Cancelling_Wait_cancels_instead_of_reporting_an_error()
    {
        await using var server = await FakeSandboxerServer.StartNewAsync(FakeKind.KuasarV1);
        var controller = ControllerHarness.Create(server.SocketPath);
        var sandbox = ControllerHarness.Sandbox(ControllerHarness.NewId());
        await controller.CreateAsync(sandbox, CancellationToken.None);
        await controller.StartAsync(sandbox, CancellationToken.None);
        using var cts = new CancellationTokenSource();

        var wait = controller.WaitAsync(sandbox, cts.Token);
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => wait);
    }
}
