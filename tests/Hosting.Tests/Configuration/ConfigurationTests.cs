using Isola.Hosting.Tests.Doubles;
using Isola.Hosting;
using Microsoft.Extensions.Configuration;

namespace Isola.Hosting.Tests.Configuration;

/// <summary>Runtime handlers and timeouts are validated at start, with errors naming the key; sources layer as documented.</summary>
[Collection(EnvironmentCollection.Name)]
public sealed class ConfigurationTests : IDisposable
{
    private readonly TestRoot _t = new();

    public void Dispose() => _t.Dispose();

    private async Task<IsolaException> StartFails(params (string, string?)[] settings)
    {
        var e = await Assert.ThrowsAsync<IsolaException>(async () =>
        {
            await using var host = await _t.StartAsync(settings);
        });
        return e;
    }

    [Theory]
    [InlineData("{\n  \"Isola\": {\n    \"Root\": \"/tmp/x\"\n    \"PluginsDir\": \"/p\"\n  }\n}", "invalid JSON at line 4, column 5: ")]
    [InlineData("{ \"Isola\": { \"Root\": \"/a\", \"Root\": \"/b\" } }", "invalid JSON: A duplicate key 'Isola:Root' was found")]
    [InlineData("", "invalid JSON at line 1, column 1: ")]
    public void A_malformed_configuration_file_names_the_file_and_where(string json, string expected)
    {
        var file = Path.Combine(_t.Root + "-config.json");
        File.WriteAllText(file, json);
        try
        {
            var e = Assert.Throws<IsolaException>(() => IsolaHost.CreateBuilder(["--config", file]));

            Assert.Equal(IsolaErrorCode.InvalidArgument, e.Code);
            Assert.StartsWith($"configuration file '{file}': {expected}", e.Message);
            Assert.DoesNotContain('\n', e.Message);
            Assert.DoesNotContain("LineNumber", e.Message);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task An_unknown_controller_names_the_key_and_the_known_controllers()
    {
        var e = await StartFails(("Isola:Runtimes:kata:Controller", "kata-x"));
        Assert.Equal("Isola:Runtimes:kata:Controller: no controller named 'kata-x' (known: fake)", e.Message);
    }

    [Fact]
    public async Task A_runtime_without_a_controller_names_the_key()
    {
        var e = await StartFails(("Isola:Runtimes:kata:Options:Vcpus", "2"));
        Assert.StartsWith("Isola:Runtimes:kata:Controller: missing", e.Message);
    }

    [Fact]
    public async Task A_missing_default_runtime_names_the_key_and_the_configured_ones()
    {
        var e = await StartFails(("Isola:DefaultRuntime", "runc"));
        Assert.Equal("Isola:DefaultRuntime: no runtime named 'runc' (configured: fake)", e.Message);
    }

    [Theory]
    [InlineData("Controller", "soon")]
    [InlineData("Task", "-00:00:01")]
    [InlineData("Stop", "0")]
    public async Task Bad_timeouts_name_the_key(string key, string value)
    {
        var e = await StartFails(($"Isola:Timeouts:{key}", value));
        Assert.Equal(IsolaErrorCode.InvalidArgument, e.Code);
        Assert.StartsWith($"Isola:Timeouts:{key}: '{value}'", e.Message);
    }

    [Fact]
    public async Task Options_rejected_by_the_factory_name_the_key()
    {
        var e = await StartFails(("Isola:Runtimes:fake:Options:Reject", "yes"));
        Assert.Contains("Isola:Runtimes:fake:Options:Reject", e.Message);
    }

    [Fact]
    public async Task The_factory_gets_the_handler_options_path_and_state_root()
    {
        var plugin = new FakePlugin(_t.Controller);
        var builder = IsolaHost.CreateBuilder();
        builder.Configuration.AddInMemoryCollection(_t.Settings(("Isola:Runtimes:fake:Options:Vcpus", "2")));
        builder.AddPlugin(plugin);
        await using var host = await builder.StartAsync();
        var context = Assert.Single(plugin.Contexts);
        Assert.Equal("fake", context.RuntimeName);
        Assert.Equal("2", context.Options["Vcpus"]);
        Assert.Equal("Isola:Runtimes:fake:Options", context.ConfigPath);
        Assert.Equal(_t.Root, context.StateRoot);
        var runtime = Assert.Single(host.Runtimes);
        Assert.True(runtime.IsDefault);
        Assert.Equal("2", runtime.Details["Vcpus"]);
    }

    [Fact]
    public async Task Runtime_details_merge_options_with_what_the_controller_reports_now()
    {
        await using var host = await _t.StartAsync(("Isola:Runtimes:fake:Options:Api", "auto"));
        Assert.Equal("auto", host.Runtimes.Single().Details["Api"]);
        _t.Controller.Detected["Api"] = "v1 (detected)";
        Assert.Equal("v1 (detected)", host.Runtimes.Single().Details["Api"]);
    }

    [Fact]
    public async Task Disposing_the_host_disposes_its_controllers_and_plugin_objects()
    {
        var host = await _t.StartAsync();
        await host.DisposeAsync();
        await host.DisposeAsync();
        Assert.Equal(1, _t.Controller.Disposals);
    }

    [Fact]
    public async Task Json_file_then_environment_then_command_line_win_in_that_order()
    {
        var file = Path.Combine(_t.Root + "-plugins", "isola.json");
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        await File.WriteAllTextAsync(file, $$"""
            { "Isola": { "Root": "{{_t.Root}}-json", "PluginsDir": "{{_t.EmptyPluginsDir()}}", "DefaultRuntime": "fake",
                         "Runtimes": { "fake": { "Controller": "fake" } }, "Timeouts": { "Stop": "00:00:03" } } }
            """);
        Environment.SetEnvironmentVariable("ISOLA__ROOT", _t.Root + "-env");
        try
        {
            var builder = IsolaHost.CreateBuilder(["--config", file, "--Isola:Timeouts:Stop=00:00:04"]);
            Assert.Equal(_t.Root + "-env", builder.Configuration["Isola:Root"]);
            Assert.Equal("00:00:04", builder.Configuration["Isola:Timeouts:Stop"]);
            Assert.Equal("fake", builder.Configuration["Isola:Runtimes:fake:Controller"]);
            builder.Configuration.AddInMemoryCollection([new("Isola:Root", _t.Root)]);
            builder.AddPlugin(new FakePlugin(_t.Controller));
            await using var host = await builder.StartAsync();
            Assert.Equal(TimeSpan.FromSeconds(4), host.Services.Settings.StopTimeout);
            Assert.Equal(_t.Root, host.Services.Store.Records.Root);
            Assert.False(Directory.Exists(_t.Root + "-json"));
            Assert.False(Directory.Exists(_t.Root + "-env"));
        }
        finally
        {
            Environment.SetEnvironmentVariable("ISOLA__ROOT", null);
        }
    }

    [Fact]
    public void A_missing_config_file_is_an_error_naming_it()
    {
        var e = Assert.Throws<IsolaException>(() => IsolaHost.CreateBuilder(["--config", "/nonexistent/isola.json"]));
        Assert.Contains("'/nonexistent/isola.json'", e.Message);
    }
}

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class EnvironmentCollection
{
    public const string Name = "process environment";
}
