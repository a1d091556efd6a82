using System.Text.Json;
using Isola.Cli.Tests.Support;

namespace Isola.Cli.Tests;

/// <summary><c>isola run</c> in-process: the host it starts (alongside the script's cache lookup) reaches the script,
/// and a host that cannot start is the one error reported.</summary>
[Collection(TestPluginCollection.Name)]
public sealed class RunCommandTests(TestPluginBuild plugin) : IDisposable
{
    private readonly CliWorld _w = new(plugin);

    public void Dispose() => _w.Dispose();

    private string CacheDir => Path.Combine(_w.Base, "script-cache");

    private void WriteConfig(object runtimes) =>
        File.WriteAllText(_w.ConfigFile, JsonSerializer.Serialize(new
        {
            Isola = new { PluginsDir = plugin.PluginsDir, DefaultRuntime = "test", Runtimes = runtimes, Scripting = new { CacheDir } },
        }));

    [Fact]
    public async Task The_script_runs_on_the_started_host_with_its_args_compiled_then_cached()
    {
        WriteConfig(new { test = new { Controller = "filetest", Options = new { _w.CallLog, _w.ResourceDir } } });
        var script = Path.Combine(_w.Base, "runtimes.csx");
        File.WriteAllText(script, """
            var onHost = Isola.Runtimes.Single().Name == "test" && Isola.Plugins.Any(p => p.Name == "testplugin");
            return onHost && Args.SequenceEqual(["a", "b c", "--x"]) ? 7 : Args.Length == 0 ? 8 : 1;
            """);

        Assert.Equal((7, "", ""), await _w.RunAsync("run", script, "--", "a", "b c", "--x"));
        Assert.Equal((8, "", ""), await _w.RunAsync("run", script));
        Assert.Single(Directory.GetDirectories(CacheDir), d => !Path.GetFileName(d).StartsWith('.'));
    }

    [Fact]
    public async Task A_host_that_cannot_start_is_reported_rather_than_the_missing_script()
    {
        WriteConfig(new { kata = new { Controller = "kata-x" } });
        var missing = Path.Combine(_w.Base, "missing.csx");
        Assert.Equal((1, "", "isola: Isola:Runtimes:kata:Controller: no controller named 'kata-x' (known: filetest)\n"),
            await _w.RunAsync("run", missing));

        WriteConfig(new { test = new { Controller = "filetest", Options = new { _w.CallLog, _w.ResourceDir } } });
        Assert.Equal((1, "", $"isola: script '{missing}' not found\n"), await _w.RunAsync("run", missing));
    }
}
