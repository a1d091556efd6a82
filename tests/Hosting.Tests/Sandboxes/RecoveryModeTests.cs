using System.Text.Json.Nodes;
using Isola.Hosting.Tests.Doubles;

namespace Isola.Hosting.Tests.Sandboxes;

/// <summary>Isola:Recovery: a short-lived host (OnDemand) finishes only half-done intents and asks the controller about
/// a sandbox when it is touched; a long-running host (Full) reconciles everything, with bounded concurrency.</summary>
public sealed class RecoveryModeTests : IDisposable
{
    private readonly TestRoot _t = new();

    public void Dispose() => _t.Dispose();

    private async Task RunSandboxesAsync(int count)
    {
        await using var host = await _t.StartAsync();
        for (var i = 0; i < count; i++)
        {
            await host.Sandboxes.RunAsync(new SandboxSpec { Id = $"sb{i}" });
        }
    }

    private void SetState(string id, SandboxState state)
    {
        var path = Path.Combine(_t.Root, id, "sandbox.json");
        var json = JsonNode.Parse(File.ReadAllText(path))!;
        json["state"] = state.ToString();
        File.WriteAllText(path, json.ToJsonString());
    }

    [Fact]
    public async Task On_demand_start_asks_no_controller_about_live_sandboxes_and_arms_no_waits()
    {
        await RunSandboxesAsync(3);
        var statuses = _t.Controller.Calls("Status");
        var waits = _t.Controller.Calls("Wait");
        await using var host = await _t.StartAsync(("Isola:Recovery", "OnDemand"));
        Assert.Equal(statuses, _t.Controller.Calls("Status"));
        Assert.Equal(waits, _t.Controller.Calls("Wait"));
        Assert.False(((Hosting.IsolaHost)host).Services.Monitor.IsMonitored("sb0"));

        // Touching one sandbox refreshes that one only.
        _t.Controller.Exit("sb1", 3);
        await _t.Controller.StopAsync(new Isola.Controllers.SandboxContext("sb1", "sb1", new SandboxSpec(), "/nonexistent", new Dictionary<string, string>()), TimeSpan.Zero, default);
        var sandbox = await host.Sandboxes.GetAsync("sb1");
        Assert.Equal(SandboxState.Stopped, sandbox.Info.State);
        Assert.Equal(statuses + 1, _t.Controller.Calls("Status"));

        // A sandbox this host starts gets no background Wait either.
        await host.Sandboxes.RunAsync(new SandboxSpec { Id = "fresh" });
        Assert.False(((Hosting.IsolaHost)host).Services.Monitor.IsMonitored("fresh"));
    }

    [Fact]
    public async Task On_demand_start_still_finishes_half_done_intents()
    {
        await RunSandboxesAsync(2);
        SetState("sb0", SandboxState.Starting);
        var shutdowns = _t.Controller.Calls("Shutdown");
        await using var host = await _t.StartAsync(("Isola:Recovery", "OnDemand"));
        Assert.Equal(shutdowns + 1, _t.Controller.Calls("Shutdown"));
        Assert.False(Directory.Exists(Path.Combine(_t.Root, "sb0")));
        Assert.True(Directory.Exists(Path.Combine(_t.Root, "sb1")));
    }

    [Fact]
    public async Task On_demand_listing_refreshes_every_live_sandbox_with_bounded_concurrency()
    {
        const int count = 20;
        await RunSandboxesAsync(count);
        await using var host = await _t.StartAsync(("Isola:Recovery", "OnDemand"));
        var before = _t.Controller.Calls("Status");
        _t.Controller.StatusDelay = TimeSpan.FromMilliseconds(50);
        var list = await host.Sandboxes.ListAsync();
        Assert.Equal(count, list.Count);
        Assert.Equal(before + count, _t.Controller.Calls("Status"));
        Assert.InRange(_t.Controller.StatusPeak, 1, 8);
    }

    [Fact]
    public async Task Full_recovery_bounds_its_status_concurrency()
    {
        const int count = 20;
        await RunSandboxesAsync(count);
        _t.Controller.StatusDelay = TimeSpan.FromMilliseconds(50);
        var before = _t.Controller.Calls("Status");
        await using var host = await _t.StartAsync();
        Assert.Equal(before + count, _t.Controller.Calls("Status"));
        Assert.InRange(_t.Controller.StatusPeak, 1, 8);
        Assert.True(((Hosting.IsolaHost)host).Services.Monitor.IsMonitored("sb0"));
    }

    [Fact]
    public async Task An_unknown_recovery_mode_fails_the_start_naming_the_key()
    {
        var e = await Assert.ThrowsAsync<IsolaException>(() => _t.StartAsync(("Isola:Recovery", "Lazy")));
        Assert.Contains("Isola:Recovery", e.Message);
    }
}
