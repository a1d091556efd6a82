using System.Text.Json;
using Isola.Cli.Tests.Support;

namespace Isola.Cli.Tests;

/// <summary>A runtime whose factory rejects its options: the isola command builds a runtime's controller when a command
/// uses that runtime, so commands that do not use it work, and the ones that do fail with one line naming the key.</summary>
[Collection(TestPluginCollection.Name)]
public sealed class RuntimeOptionsTests(TestPluginBuild plugin) : IDisposable
{
    private readonly CliWorld _w = new(plugin);

    public void Dispose() => _w.Dispose();

    private void WriteConfigWithBrokenRuntime() =>
        File.WriteAllText(_w.ConfigFile, JsonSerializer.Serialize(new
        {
            Isola = new
            {
                PluginsDir = plugin.PluginsDir,
                DefaultRuntime = "test",
                Runtimes = new
                {
                    test = new { Controller = "filetest", Options = new { _w.CallLog, _w.ResourceDir } },
                    broken = new { Controller = "filetest", Options = new { _w.CallLog } }, // ResourceDir is required
                },
            },
        }));

    private static void OneLineError((int Code, string Out, string Err) result, string expected)
    {
        Assert.Equal(1, result.Code);
        Assert.Equal($"isola: {expected}\n", result.Err);
    }

    [Fact]
    public async Task Only_commands_that_use_the_runtime_report_its_rejected_options()
    {
        WriteConfigWithBrokenRuntime();
        const string error = "Isola:Runtimes:broken:Options:ResourceDir: required";

        Assert.Equal(0, (await _w.RunAsync("plugins", "ls")).Code);
        var id = _w.Id("ok");
        Assert.Equal((0, $"{id}\n", ""), await _w.RunAsync("sandbox", "run", "--id", id));

        OneLineError(await _w.RunAsync("sandbox", "run", "--id", _w.Id("bad"), "--runtime", "broken"), error);
        var runtimes = await _w.RunAsync("runtimes", "ls");
        Assert.Equal(0, runtimes.Code); // the listing shows every runtime, the broken one with its error
        Assert.Contains(runtimes.Out.Split('\n'), line => line.StartsWith("broken ", StringComparison.Ordinal) && line.Contains("error=" + error, StringComparison.Ordinal));
        Assert.False(Directory.Exists(Path.Combine(_w.Root, _w.Id("bad"))));

        var ls = (await _w.RunAsync("sandbox", "ls")).Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, ls.Length); // the header and the sandbox on the working runtime
        Assert.StartsWith(id, ls[1]);
        Assert.Equal((0, $"{id}\n", ""), await _w.RunAsync("sandbox", "rm", id));
        Assert.Empty(_w.LiveResources());
    }
}
