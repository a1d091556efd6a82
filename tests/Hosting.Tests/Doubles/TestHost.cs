using Isola.Hosting;
using Microsoft.Extensions.Configuration;

namespace Isola.Hosting.Tests.Doubles;

/// <summary>A temp state root and a host over <see cref="FakeController"/>, runtime "fake" as default.</summary>
public sealed class TestRoot : IDisposable
{
    public TestRoot()
    {
        Root = Path.Combine(Path.GetTempPath(), "isola-host-" + Guid.NewGuid().ToString("N"));
    }

    public string Root { get; }

    public FakeController Controller { get; } = new();

    public FakeTaskService Tasks { get; } = new();

    public Dictionary<string, string?> Settings(params (string Key, string? Value)[] extra)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Isola:Root"] = Root,
            ["Isola:PluginsDir"] = EmptyPluginsDir(),
            ["Isola:DefaultRuntime"] = "fake",
            ["Isola:Runtimes:fake:Controller"] = "fake",
        };
        foreach (var (key, value) in extra)
        {
            settings[key] = value;
        }

        return settings;
    }

    public Task<IsolaHost> StartAsync(params (string Key, string? Value)[] extra)
    {
        var builder = IsolaHost.CreateBuilder();
        builder.Configuration.AddInMemoryCollection(Settings(extra));
        builder.AddPlugin(new FakePlugin(Controller, Tasks));
        return builder.StartAsync();
    }

    public string EmptyPluginsDir()
    {
        var dir = Path.Combine(Root + "-plugins");
        Directory.CreateDirectory(dir);
        return dir;
    }

    public void Dispose()
    {
        foreach (var dir in new[] { Root, Root + "-plugins" })
        {
            if (Directory.Exists(dir))
            {
                Directory.Delete(dir, recursive: true);
            }
        }
    }
}
