using Isola.Hosting.Tests.Doubles;
using Isola.Hosting;
using Microsoft.Extensions.Configuration;

namespace Isola.Hosting.Tests.Configuration;

/// <summary>When controllers are built: a Full host builds every runtime's controller at start (a bad configuration
/// stops it); an OnDemand host builds a runtime's controller when it is first used, and reports rejected options then,
/// naming the key, before anything is written.</summary>
[Collection(EnvironmentCollection.Name)]
public sealed class ControllerCreationTests : IDisposable
{
    private readonly TestRoot _t = new();

    public void Dispose() => _t.Dispose();

    private async Task<(IsolaHost Host, FakePlugin Plugin)> StartAsync(params (string, string?)[] settings)
    {
        var plugin = new FakePlugin(_t.Controller, _t.Tasks);
        var builder = IsolaHost.CreateBuilder();
        builder.Configuration.AddInMemoryCollection(_t.Settings(settings));
        builder.AddPlugin(plugin);
        return (await builder.StartAsync(), plugin);
    }

    [Fact]
    public async Task A_full_host_builds_every_controller_at_start()
    {
        var (host, plugin) = await StartAsync(("Isola:Runtimes:other:Controller", "fake"));
        await using (host)
        {
            Assert.Equal(["fake", "other"], plugin.Contexts.Select(c => c.RuntimeName).Order());
        }
    }

    [Fact]
    public async Task A_full_host_refuses_to_start_when_any_factory_rejects_its_options()
    {
        var e = await Assert.ThrowsAsync<IsolaException>(() => StartAsync(
            ("Isola:Runtimes:other:Controller", "fake"), ("Isola:Runtimes:other:Options:Reject", "yes")));
        Assert.Equal(IsolaErrorCode.InvalidArgument, e.Code);
        Assert.Contains("Isola:Runtimes:other:Options:Reject", e.Message);
    }

    [Fact]
    public async Task An_on_demand_host_builds_a_controller_when_its_runtime_is_first_used()
    {
        var (host, plugin) = await StartAsync(("Isola:Recovery", "OnDemand"), ("Isola:Runtimes:other:Controller", "fake"));
        await using (host)
        {
            Assert.Empty(plugin.Contexts);
            await host.Sandboxes.CreateAsync(new SandboxSpec { Id = "sb1", Runtime = "other" });
            await host.Sandboxes.CreateAsync(new SandboxSpec { Id = "sb2", Runtime = "other" });
            Assert.Equal(["other"], plugin.Contexts.Select(c => c.RuntimeName));
            Assert.Equal(2, _t.Controller.Calls("Create"));
        }

        Assert.Equal(1, _t.Controller.Disposals);
    }

    [Fact]
    public async Task An_on_demand_host_that_uses_no_runtime_builds_and_disposes_no_controller()
    {
        var (host, plugin) = await StartAsync(("Isola:Recovery", "OnDemand"));
        Assert.Empty(await host.Sandboxes.ListAsync());
        await host.DisposeAsync();
        Assert.Empty(plugin.Contexts);
        Assert.Equal(0, _t.Controller.Disposals);
    }

    [Fact]
    public async Task Rejected_options_fail_the_first_use_naming_the_key_and_leave_nothing()
    {
        var (host, _) = await StartAsync(("Isola:Recovery", "OnDemand"),
            ("Isola:Runtimes:bad:Controller", "fake"), ("Isola:Runtimes:bad:Options:Reject", "yes"));
        await using (host)
        {
            var e = await Assert.ThrowsAsync<IsolaException>(() => host.Sandboxes.RunAsync(new SandboxSpec { Id = "sb1", Runtime = "bad" }));
            Assert.Equal(IsolaErrorCode.InvalidArgument, e.Code);
            Assert.Equal("Isola:Runtimes:bad:Options:Reject: 'yes' is not accepted", e.Message);
            Assert.Empty(await host.Sandboxes.ListAsync());
            Assert.False(Directory.Exists(Path.Combine(_t.Root, "sb1")));
            Assert.Equal(0, _t.Controller.Calls("Create"));

            // The other runtimes are unaffected; a listing of runtimes reports the bad one's error.
            await host.Sandboxes.RunAsync(new SandboxSpec { Id = "sb2" });
            var bad = Assert.Single(host.Runtimes, r => r.Name == "bad");
            Assert.Equal("Isola:Runtimes:bad:Options:Reject: 'yes' is not accepted", bad.Details["error"]);
            Assert.DoesNotContain("error", Assert.Single(host.Runtimes, r => r.Name != "bad").Details.Keys);
        }
    }

    [Fact]
    public async Task An_unknown_runtime_is_reported_as_before_without_building_any_controller()
    {
        var (host, plugin) = await StartAsync(("Isola:Recovery", "OnDemand"));
        await using (host)
        {
            var e = await Assert.ThrowsAsync<IsolaException>(() => host.Sandboxes.RunAsync(new SandboxSpec { Id = "sb1", Runtime = "nope" }));
            Assert.Equal("sandbox 'sb1': unknown runtime 'nope' (configured: fake)", e.Message);
            Assert.Empty(plugin.Contexts);
        }
    }
}
