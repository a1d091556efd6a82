using Isola.Controllers;
using Isola.Plugins.Sandboxer.Tests.Kuasar;

namespace Isola.Plugins.Sandboxer.Tests;

/// <summary>Api=auto finds the generation once per endpoint; a forced wrong generation fails loudly.</summary>
public sealed class GenerationDetectionTests
{
    [Theory]
    [InlineData(FakeKind.KuasarV0, "v0 (detected)", "vsock://3:1024")]
    [InlineData(FakeKind.KuasarV1, "v1 (detected)", "ttrpc+vsock://3:1024")]
    public async Task Auto_detects_the_generation_and_reports_it(FakeKind kind, string expected, string address)
    {
        await using var server = await FakeSandboxerServer.StartNewAsync(kind);
        var controller = ControllerHarness.Create(server.SocketPath, api: "auto");
        var details = Assert.IsAssignableFrom<IReportsRuntimeDetails>(controller);
        Assert.Equal("auto (not yet detected)", details.Details["api"]);

        var sandbox = ControllerHarness.Sandbox(ControllerHarness.NewId());
        await controller.CreateAsync(sandbox, CancellationToken.None);
        var started = await controller.StartAsync(sandbox, CancellationToken.None);
        await controller.StatusAsync(sandbox, false, CancellationToken.None);

        Assert.Equal(expected, details.Details["api"]);
        Assert.Equal("unix://" + server.SocketPath, details.Details["address"]);
        Assert.Equal(address, started.TaskAddress);
        // One probe per endpoint, not per call; it names the sandboxer like every other request.
        var probes = server.State.All<SandboxApi.V1.ControllerMetricsRequest>();
        Assert.Equal(kind == FakeKind.KuasarV1 ? 1 : 0, probes.Count);
        Assert.All(probes, p => Assert.Equal("vmm", p.Sandboxer));
        Assert.True(server.State.Sandboxes.ContainsKey(sandbox.Id.Value));
    }

    [Fact]
    public async Task A_v1_client_against_a_v0_server_fails_instead_of_creating_anything()
    {
        await using var server = await FakeSandboxerServer.StartNewAsync(FakeKind.KuasarV0);
        var controller = ControllerHarness.Create(server.SocketPath, api: "v1");
        var sandbox = ControllerHarness.Sandbox(ControllerHarness.NewId());

        var e = await Assert.ThrowsAsync<IsolaException>(() => controller.CreateAsync(sandbox, CancellationToken.None));

        Assert.Contains(sandbox.Id.Value, e.Message);
        Assert.Contains(server.SocketPath, e.Message);
        Assert.Empty(server.State.Sandboxes);
    }

    [Fact]
    public async Task A_v1_client_never_starts_a_v0_sandbox_by_accident()
    {
        await using var server = await FakeSandboxerServer.StartNewAsync(FakeKind.KuasarV0);
        var sandbox = ControllerHarness.Sandbox(ControllerHarness.NewId());
        await ControllerHarness.Create(server.SocketPath, api: "v0").CreateAsync(sandbox, CancellationToken.None);
        var v1 = ControllerHarness.Create(server.SocketPath, api: "v1");

        // v1 puts the id at field 1, which v0 reads as the sandboxer: the server sees an empty id and refuses.
        var e = await Assert.ThrowsAsync<IsolaException>(() => v1.StartAsync(sandbox, CancellationToken.None));
        Assert.Equal(IsolaErrorCode.InvalidArgument, e.Code);
        Assert.Contains(sandbox.Id.Value, e.Message);
        Assert.False(server.State.Get(sandbox.Id.Value).Running);
    }

    [Fact]
    public async Task A_v0_client_against_a_v1_server_detects_the_echoed_wrong_id()
    {
        await using var server = await FakeSandboxerServer.StartNewAsync(FakeKind.KuasarV1);
        var controller = ControllerHarness.Create(server.SocketPath, api: "v0", sandboxer: "vmm");
        var sandbox = ControllerHarness.Sandbox(ControllerHarness.NewId());

        var e = await Assert.ThrowsAsync<IsolaException>(() => controller.CreateAsync(sandbox, CancellationToken.None));

        // v1 reads the v0 id (field 2) as a rootfs Mount and refuses it; should it decode, the echoed id
        // ("vmm", our sandboxer read as sandbox_id) differs from ours and the client refuses instead.
        Assert.Contains(sandbox.Id.Value, e.Message);
        Assert.Contains(server.SocketPath, e.Message);
        Assert.False(server.State.Sandboxes.ContainsKey(sandbox.Id.Value));
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public async Task A_probe_that_cannot_reach_the_server_is_not_remembered()
    {
        await using var server = await FakeSandboxerServer.StartNewAsync(FakeKind.KuasarV0);
        await server.StopAsync();
        var controller = ControllerHarness.Create(server.SocketPath, api: "auto");
        var sandbox = ControllerHarness.Sandbox(ControllerHarness.NewId());

        var e = await Assert.ThrowsAsync<IsolaException>(() => controller.CreateAsync(sandbox, CancellationToken.None));
        Assert.Equal(IsolaErrorCode.Unavailable, e.Code);
        Assert.Equal("auto (not yet detected)", ((IReportsRuntimeDetails)controller).Details["api"]);

        await server.StartAsync();
        await controller.CreateAsync(sandbox, CancellationToken.None);
        Assert.Equal("v0 (detected)", ((IReportsRuntimeDetails)controller).Details["api"]);
        Assert.True(server.State.Sandboxes.ContainsKey(sandbox.Id.Value));
    }
}
