using Isola.Hosting.Tests.Doubles;
using Isola.Hosting;
using Microsoft.CodeAnalysis;
using Microsoft.Extensions.Configuration;

namespace Isola.Hosting.Tests.Plugins;

/// <summary>Plugin folders compiled on the fly: loading, contract-version refusal, duplicate names, load errors.</summary>
public sealed class PluginLoaderTests : IDisposable
{
    private readonly TestRoot _t = new();
    private readonly string _plugins;

    public PluginLoaderTests()
    {
        _plugins = Path.Combine(_t.Root + "-plugins", "dir");
        Directory.CreateDirectory(_plugins);
    }

    public void Dispose() => _t.Dispose();

    private Task<IsolaHost> StartAsync(string runtimeController = "fake", bool withFake = true)
    {
        var builder = IsolaHost.CreateBuilder();
        var settings = _t.Settings(("Isola:PluginsDir", _plugins), ("Isola:Runtimes:fake:Controller", runtimeController));
        builder.Configuration.AddInMemoryCollection(settings);
        if (withFake)
        {
            builder.AddPlugin(new FakePlugin(_t.Controller));
        }

        return builder.StartAsync();
    }

    [Fact]
    public async Task A_dropped_in_plugin_folder_loads_and_its_controller_runs_a_sandbox()
    {
        var folder = PluginCompiler.Drop(_plugins, "Acme.Isola", PluginCompiler.ControllerPlugin("acme", "acme-vm"));
        await using var host = await StartAsync(runtimeController: "acme-vm");
        var acme = Assert.Single(host.Plugins, p => p.Name == "acme");
        Assert.Equal(folder, acme.Directory);
        Assert.Equal(["acme-vm"], acme.Controllers);
        var sandbox = await host.Sandboxes.RunAsync(new SandboxSpec { Id = "sb1" });
        Assert.Equal(SandboxState.Ready, sandbox.Info.State);
        Assert.Equal("acme-vm", sandbox.Info.Controller);
        await sandbox.RemoveAsync();
    }

    [Fact]
    public async Task A_plugin_built_against_a_newer_abstractions_version_is_refused_before_its_types_load()
    {
        var stub = PluginCompiler.Compile("Isola.Abstractions", """
            [assembly: System.Reflection.AssemblyVersion("3.0.0.0")]
            namespace Isola.Plugins { public interface IIsolaPlugin { string Name { get; } } }
            """, []);
        var folder = PluginCompiler.Drop(_plugins, "Future.Plugin", """
            public sealed class Future : Isola.Plugins.IIsolaPlugin { public string Name => "future"; }
            """, [MetadataReference.CreateFromImage(stub)]);
        var e = await Assert.ThrowsAsync<IsolaException>(() => StartAsync());
        Assert.Equal(IsolaErrorCode.FailedPrecondition, e.Code);
        Assert.Contains($"plugin folder '{folder}'", e.Message);
        Assert.Contains("Isola.Abstractions 3.0.0.0", e.Message);
        Assert.Contains("host's 2.0.0.0", e.Message);
    }

    [Fact]
    public async Task A_plugin_built_against_an_older_major_abstractions_version_is_refused_before_its_types_load()
    {
        var stub = PluginCompiler.Compile("Isola.Abstractions", """
            [assembly: System.Reflection.AssemblyVersion("1.2.0.0")]
            namespace Isola.Plugins { public interface IIsolaPlugin { string Name { get; } } }
            """, []);
        var folder = PluginCompiler.Drop(_plugins, "Old.Plugin", """
            public sealed class Old : Isola.Plugins.IIsolaPlugin { public string Name => "old"; }
            """, [MetadataReference.CreateFromImage(stub)]);
        var e = await Assert.ThrowsAsync<IsolaException>(() => StartAsync());
        Assert.Equal(IsolaErrorCode.FailedPrecondition, e.Code);
        Assert.Equal(
            $"plugin folder '{folder}': built against Isola.Abstractions 1.2.0.0, an older major version than this host's 2.0.0.0; " +
            "rebuild the plugin against Isola.Abstractions 2.x", e.Message);
    }

    [Fact]
    public async Task Duplicate_controller_names_fail_start_naming_both_plugins()
    {
        var a = PluginCompiler.Drop(_plugins, "A.Plugin", PluginCompiler.ControllerPlugin("alpha", "dup"));
        var b = PluginCompiler.Drop(_plugins, "B.Plugin", PluginCompiler.ControllerPlugin("beta", "dup"));
        var e = await Assert.ThrowsAsync<IsolaException>(() => StartAsync());
        Assert.Equal(IsolaErrorCode.AlreadyExists, e.Code);
        Assert.Contains("controller 'dup'", e.Message);
        Assert.Contains($"'alpha' ({a})", e.Message);
        Assert.Contains($"'beta' ({b})", e.Message);
    }

    [Fact]
    public async Task A_folder_plugin_clashing_with_an_in_process_plugin_fails_start()
    {
        PluginCompiler.Drop(_plugins, "Clash", PluginCompiler.ControllerPlugin("clash", "fake"));
        var e = await Assert.ThrowsAsync<IsolaException>(() => StartAsync());
        Assert.Contains("controller 'fake'", e.Message);
        Assert.Contains("'clash'", e.Message);
        Assert.Contains("'fake-plugin' (in-process)", e.Message);
    }

    [Fact]
    public async Task Duplicate_executor_schemes_fail_start()
    {
        var builder = IsolaHost.CreateBuilder();
        builder.Configuration.AddInMemoryCollection(_t.Settings(("Isola:PluginsDir", _plugins)));
        builder.AddPlugin(new FakePlugin(_t.Controller, new FakeTaskService(), name: "one"));
        builder.AddPlugin(new FakePlugin(_t.Controller, new FakeTaskService(), name: "two", controllerName: "other"));
        var e = await Assert.ThrowsAsync<IsolaException>(() => builder.StartAsync());
        Assert.Contains("task-address scheme 'fake'", e.Message);
        Assert.Contains("'one'", e.Message);
        Assert.Contains("'two'", e.Message);
    }

    [Fact]
    public async Task A_folder_without_its_main_assembly_is_an_error_naming_it()
    {
        var folder = Path.Combine(_plugins, "Empty.Plugin");
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "Other.dll"), "");
        var e = await Assert.ThrowsAsync<IsolaException>(() => StartAsync());
        Assert.Contains($"plugin folder '{folder}'", e.Message);
        Assert.Contains("no Empty.Plugin.dll", e.Message);
    }

    [Fact]
    public async Task A_main_assembly_that_is_not_dotnet_is_an_error_naming_the_folder()
    {
        var folder = Path.Combine(_plugins, "Junk");
        Directory.CreateDirectory(folder);
        File.WriteAllBytes(Path.Combine(folder, "Junk.dll"), [0x7f, 0x45, 0x4c, 0x46, 1, 2, 3]);
        var e = await Assert.ThrowsAsync<IsolaException>(() => StartAsync());
        Assert.Equal(IsolaErrorCode.InvalidArgument, e.Code);
        Assert.StartsWith($"plugin folder '{folder}': Junk.dll is not a .NET assembly", e.Message);
    }

    [Fact]
    public async Task A_plugin_without_the_entry_attribute_is_an_error_naming_the_folder()
    {
        var folder = PluginCompiler.Drop(_plugins, "NoEntry", """
            public sealed class Nothing : Isola.Plugins.IIsolaPlugin { public string Name => "x"; public void Register(Isola.Plugins.IPluginRegistry r) { } }
            """);
        var e = await Assert.ThrowsAsync<IsolaException>(() => StartAsync());
        Assert.Contains($"plugin folder '{folder}'", e.Message);
        Assert.Contains("[assembly: IsolaPlugin(typeof(...))]", e.Message);
    }

    [Fact]
    public async Task An_entry_type_that_is_not_a_plugin_is_an_error_naming_it()
    {
        var folder = PluginCompiler.Drop(_plugins, "Wrong", """
            [assembly: Isola.Plugins.IsolaPlugin(typeof(Wrong.NotAPlugin))]
            namespace Wrong { public sealed class NotAPlugin { } }
            """);
        var e = await Assert.ThrowsAsync<IsolaException>(() => StartAsync());
        Assert.Contains($"plugin folder '{folder}'", e.Message);
        Assert.Contains("Wrong.NotAPlugin does not implement Isola.Plugins.IIsolaPlugin", e.Message);
    }

    [Fact]
    public async Task A_missing_dependency_is_an_error_naming_the_folder_and_the_assembly()
    {
        var dependency = PluginCompiler.Compile("Missing.Dependency", "namespace Missing { public sealed class Thing { public string Hello() => \"hi\"; } }", []);
        var folder = PluginCompiler.Drop(_plugins, "Needy", """
            [assembly: Isola.Plugins.IsolaPlugin(typeof(Needy.Entry))]
            namespace Needy
            {
                public sealed class Entry : Isola.Plugins.IIsolaPlugin
                {
                    private readonly string _hello = Use();
                    public string Name => _hello;
                    public void Register(Isola.Plugins.IPluginRegistry r) { }
                    private static string Use() => new Missing.Thing().Hello();
                }
            }
            """, [.. PluginCompiler.Contracts, MetadataReference.CreateFromImage(dependency)]);
        var e = await Assert.ThrowsAsync<IsolaException>(() => StartAsync());
        Assert.Contains($"plugin folder '{folder}'", e.Message);
        Assert.Contains("Missing.Dependency", e.Message);
    }

    [Fact]
    public async Task A_plugin_whose_Register_throws_is_an_error_naming_it()
    {
        var folder = PluginCompiler.Drop(_plugins, "Thrower", """
            [assembly: Isola.Plugins.IsolaPlugin(typeof(Thrower.Entry))]
            namespace Thrower
            {
                public sealed class Entry : Isola.Plugins.IIsolaPlugin
                {
                    public string Name => "thrower";
                    public void Register(Isola.Plugins.IPluginRegistry r) => throw new System.InvalidOperationException("no kernel found");
                }
            }
            """);
        var e = await Assert.ThrowsAsync<IsolaException>(() => StartAsync());
        Assert.Contains(folder, e.Message);
        Assert.Contains("no kernel found", e.Message);
    }

    [Fact]
    public async Task Dot_folders_are_ignored_and_a_configured_missing_plugins_dir_is_an_error()
    {
        Directory.CreateDirectory(Path.Combine(_plugins, ".cache"));
        await using (await StartAsync())
        {
        }

        var builder = IsolaHost.CreateBuilder();
        builder.Configuration.AddInMemoryCollection(_t.Settings(("Isola:PluginsDir", "/nonexistent/isola-plugins")));
        var e = await Assert.ThrowsAsync<IsolaException>(() => builder.StartAsync());
        Assert.Contains("Isola:PluginsDir", e.Message);
        Assert.Contains("/nonexistent/isola-plugins", e.Message);
    }
}
