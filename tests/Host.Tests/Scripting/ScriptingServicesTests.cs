using Isola.Hosting.Scripting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Isola.Host.Tests.Scripting;

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
}
