using Isola.Hosting;
using Microsoft.Extensions.Configuration;

namespace Isola.Cli.Tests;

/// <summary>The default plugins, built into $(OutDir)plugins/ by the normal build, load from that folder.</summary>
public sealed class DefaultPluginTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "isola-defaults-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    [Fact]
    public async Task Every_default_plugin_folder_loads_and_registers_something()
    {
        var plugins = Path.Combine(AppContext.BaseDirectory, "plugins");
        Assert.True(Directory.Exists(plugins), $"{plugins} is missing: build this project normally (IsolaUsesDefaultPlugins=true copies the default plugins there)");
        var folders = Directory.GetDirectories(plugins).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(["Isola.Plugins.Sandboxer", "Isola.Plugins.Shim", "Isola.Plugins.StratoVirt", "Isola.Plugins.TaskApi"],
            folders.Select(Path.GetFileName));
        var builder = IsolaHost.CreateBuilder();
        builder.Configuration.AddInMemoryCollection([new("Isola:Root", _root), new("Isola:PluginsDir", plugins)]);
        await using var host = await builder.StartAsync();
        Assert.Equal(folders, host.Plugins.Select(p => p.Directory));
        Assert.All(host.Plugins, p => Assert.NotEmpty(p.Controllers.Concat(p.Vmms).Concat(p.ExecutorSchemes)));
    }

    [Fact]
    public async Task The_task_api_plugin_alone_serves_the_ttrpc_task_addresses_of_every_default_controller()
    {
        var builder = IsolaHost.CreateBuilder();
        builder.Configuration.AddInMemoryCollection([new("Isola:Root", _root), new("Isola:PluginsDir", Path.Combine(AppContext.BaseDirectory, "plugins"))]);
        await using var host = await builder.StartAsync();

        var shim = Assert.Single(host.Plugins, p => p.Name == "shim");
        var taskApi = Assert.Single(host.Plugins, p => p.Name == "task-api");
        Assert.Equal(["shim"], shim.Controllers);
        Assert.Empty(shim.ExecutorSchemes); // the shim controller borrows the task-api executor, it registers none
        Assert.Empty(taskApi.Controllers.Concat(taskApi.Vmms));
        Assert.Equal(["hvsock", "ttrpc+hvsock", "ttrpc+unix", "ttrpc+vsock", "unix", "vsock"], taskApi.ExecutorSchemes.Order(StringComparer.Ordinal));
        Assert.All(host.Plugins.Where(p => p != taskApi), p => Assert.Empty(p.ExecutorSchemes));
    }
}
