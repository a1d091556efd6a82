using Isola.Controllers;
using Isola.Hosting.Tests.Doubles;
using Isola.Hosting;
using Microsoft.Extensions.Configuration;

namespace Isola.Hosting.Tests.Configuration;

/// <summary>A configuration that names no runtimes gets the one a controller offers (the shim plugin's "runc" on
/// "shim"); the host itself names no controller or runtime.</summary>
[Collection(EnvironmentCollection.Name)]
public sealed class DefaultRuntimeOfferTests : IDisposable
{
    private readonly TestRoot _t = new();

    public void Dispose() => _t.Dispose();

    private IsolaHostBuilder Builder(params (string Key, string? Value)[] extra)
    {
        var builder = IsolaHost.CreateBuilder();
        builder.Configuration.AddInMemoryCollection([new("Isola:Root", _t.Root), new("Isola:PluginsDir", _t.EmptyPluginsDir())]);
        builder.Configuration.AddInMemoryCollection(extra.Select(kv => KeyValuePair.Create(kv.Key, kv.Value)));
        return builder;
    }

    [Fact]
    public async Task Without_runtimes_the_runtime_a_controller_offers_is_built_and_is_the_default()
    {
        var builder = Builder();
        var plugin = new FakePlugin(_t.Controller, controllerName: "shim", offer: new DefaultRuntimeOffer("runc"));
        builder.AddPlugin(plugin);
        await using var host = await builder.StartAsync();

        var runc = Assert.Single(host.Runtimes);
        Assert.Equal(("runc", "shim", true), (runc.Name, runc.Controller, runc.IsDefault));
        Assert.Empty(runc.Details); // no options: every one at the factory's default
        Assert.Equal(("runc", "Isola:Runtimes:runc:Options"), (plugin.Contexts[0].RuntimeName, plugin.Contexts[0].ConfigPath));
    }

    [Fact]
    public async Task The_offered_options_reach_the_factory_and_the_listing()
    {
        var builder = Builder();
        var plugin = new FakePlugin(_t.Controller, controllerName: "vm",
            offer: new DefaultRuntimeOffer("micro", new Dictionary<string, string?> { ["Vcpus"] = "2", ["Guest:Kernel"] = "/k" }));
        builder.AddPlugin(plugin);
        await using var host = await builder.StartAsync();

        var micro = Assert.Single(host.Runtimes);
        Assert.Equal(("micro", "vm", true), (micro.Name, micro.Controller, micro.IsDefault));
        Assert.Equal(("2", "/k"), (plugin.Contexts[0].Options["Vcpus"], plugin.Contexts[0].Options["Guest:Kernel"]));
        Assert.Equal("2", micro.Details["Vcpus"]);
    }

    [Fact]
    public async Task Configured_runtimes_replace_the_offer_whose_name_stays_the_default()
    {
        var e = await Assert.ThrowsAsync<IsolaException>(async () =>
        {
            var builder = Builder(("Isola:Runtimes:kata:Controller", "shim"));
            builder.AddPlugin(new FakePlugin(_t.Controller, controllerName: "shim", offer: new DefaultRuntimeOffer("runc")));
            await using var host = await builder.StartAsync();
        });

        Assert.Equal("Isola:DefaultRuntime: no runtime named 'runc' (configured: kata)", e.Message);
    }

    [Fact]
    public async Task An_explicit_default_runtime_turns_the_offer_off()
    {
        var e = await Assert.ThrowsAsync<IsolaException>(async () =>
        {
            var builder = Builder(("Isola:DefaultRuntime", "runc"));
            builder.AddPlugin(new FakePlugin(_t.Controller, controllerName: "shim", offer: new DefaultRuntimeOffer("runc")));
            await using var host = await builder.StartAsync();
        });

        Assert.Equal("Isola:DefaultRuntime: no runtime named 'runc' (configured: none)", e.Message);
    }

    [Fact]
    public async Task Without_runtimes_and_without_an_offer_the_host_starts_with_none()
    {
        var builder = Builder();
        builder.AddPlugin(new FakePlugin(_t.Controller, controllerName: "shim")); // a controller offering nothing, as a 1.1 plugin's
        await using var host = await builder.StartAsync();

        Assert.Empty(host.Runtimes);
        var e = await Assert.ThrowsAsync<IsolaException>(() => host.Sandboxes.RunAsync(new SandboxSpec { Id = "sb1" }));
        Assert.Equal(IsolaErrorCode.InvalidArgument, e.Code);
        Assert.Equal("sandbox 'sb1': names no runtime, and there is no default runtime (configured: none); name one, or set Isola:DefaultRuntime", e.Message);
    }

    [Fact]
    public async Task Configured_runtimes_without_a_default_and_without_an_offer_name_the_key()
    {
        var e = await Assert.ThrowsAsync<IsolaException>(async () =>
        {
            var builder = Builder(("Isola:Runtimes:kata:Controller", "fake"));
            builder.AddPlugin(new FakePlugin(_t.Controller));
            await using var host = await builder.StartAsync();
        });

        Assert.Equal("Isola:DefaultRuntime: missing; name one of the configured runtimes (kata)", e.Message);
    }

    [Fact]
    public async Task Two_offers_without_runtimes_refuse_to_start_naming_both()
    {
        var e = await Assert.ThrowsAsync<IsolaException>(async () =>
        {
            var builder = Builder();
            builder.AddPlugin(new FakePlugin(_t.Controller, controllerName: "shim", offer: new DefaultRuntimeOffer("runc")));
            builder.AddPlugin(new FakePlugin(_t.Controller, name: "other", controllerName: "vm", offer: new DefaultRuntimeOffer("micro")));
            await using var host = await builder.StartAsync();
        });

        Assert.Equal("Isola:Runtimes: none configured, and several controllers offer a default runtime ('runc' on 'shim', 'micro' on 'vm'); "
            + "configure the runtimes and Isola:DefaultRuntime", e.Message);
    }

    [Fact]
    public async Task An_offer_with_an_invalid_name_names_the_plugin()
    {
        var e = await Assert.ThrowsAsync<IsolaException>(async () =>
        {
            var builder = Builder();
            builder.AddPlugin(new FakePlugin(_t.Controller, controllerName: "shim", offer: new DefaultRuntimeOffer("../x")));
            await using var host = await builder.StartAsync();
        });

        Assert.Equal("plugin 'fake-plugin' (in-process): controller 'shim' offers a default runtime with an invalid name '../x'", e.Message);
    }
}
