using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Isola.Scripting.Tests;

/// <summary>The runner is available to embedding applications through dependency injection.</summary>
public sealed class ScriptingServicesTests : IDisposable
{
    private readonly ScriptWorkspace _ws = new();

    public void Dispose() => _ws.Dispose();

    [Fact]
    public async Task AddIsolaScripting_registers_a_runner_using_the_configured_cache_dir()
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["Isola:Scripting:CacheDir"] = _ws.CacheDir })
            .Build();
        var services = new ServiceCollection()
            .AddLogging()
            .AddSingleton<IIsola>(new RecordingIsola())
            .AddIsolaScripting(configuration);
        await using var provider = services.BuildServiceProvider();

        var runner = provider.GetRequiredService<IScriptRunner>();
        var result = await runner.RunAsync(_ws.Write("di.csx", "return Isola.Runtimes.Count;\n"), []);

        Assert.Same(runner, provider.GetRequiredService<IScriptRunner>());
        Assert.Equal(1, result.ExitCode);
        Assert.Single(_ws.CacheEntries());
    }

    [Fact]
    public void BindOptions_reads_the_cache_dir_and_the_denied_directories_in_order_and_ignores_other_keys()
    {
        var json = Path.Combine(_ws.Root, "isola.json");
        File.WriteAllText(json, """
            { "Isola": { "Scripting": { "CacheDir": "/var/cache/isola-scripts", "DeniedReferenceDirectories": [ "/opt/a", "/opt/b" ], "Other": "x" } } }
            """);
        var configuration = new ConfigurationBuilder()
            .AddJsonFile(json)
            .AddInMemoryCollection(new Dictionary<string, string?> { ["Isola:Scripting:DeniedReferenceDirectories:2"] = "/opt/c" })
            .Build();

        var options = IsolaScripting.BindOptions(configuration);

        Assert.Equal("/var/cache/isola-scripts", options.CacheDir);
        Assert.Equal(["/opt/a", "/opt/b", "/opt/c"], options.DeniedReferenceDirectories);
        Assert.Null(IsolaScripting.BindOptions(new ConfigurationBuilder().Build()).CacheDir);
    }
}
