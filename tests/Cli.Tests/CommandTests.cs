using System.Text.Json;
using Isola.Cli.Tests.Support;

namespace Isola.Cli.Tests;

/// <summary>The isola command run in-process through its entry method, against the drop-in test plugin.</summary>
[Collection(TestPluginCollection.Name)]
public sealed class CommandTests(TestPluginBuild plugin) : IDisposable
{
    private readonly CliWorld _w = new(plugin);

    public void Dispose() => _w.Dispose();

    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    private static void OneLineError((int Code, string Out, string Err) result, int code, params string[] mentions)
    {
        Assert.Equal(code, result.Code);
        var line = Assert.Single(Lines(result.Err));
        Assert.StartsWith("isola: ", line);
        foreach (var mention in mentions)
        {
            Assert.Contains(mention, line);
        }
    }

    [Fact]
    public async Task Version_in_both_formats()
    {
        var table = await _w.RunAsync("version");
        Assert.Equal(0, table.Code);
        Assert.Contains("abstractions: 2.0.0.0", table.Out);
        var json = await _w.RunAsync("version", "-o", "json");
        using var doc = JsonDocument.Parse(json.Out);
        Assert.Equal("2.0.0.0", doc.RootElement.GetProperty("abstractions").GetString());
        Assert.StartsWith(".NET 10", doc.RootElement.GetProperty("runtime").GetString());
    }

    [Fact]
    public async Task Plugins_and_runtimes_in_both_formats()
    {
        var plugins = await _w.RunAsync("plugins", "ls");
        Assert.Equal(0, plugins.Code);
        var lines = Lines(plugins.Out);
        Assert.Equal(["NAME", "VERSION", "CONTROLLERS", "VMMS", "SCHEMES", "DIRECTORY"], lines[0].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(["testplugin", "0.9.0.0", "filetest", "-", "test", Path.Combine(plugin.PluginsDir, "Isola.TestPlugin")],
            lines[1].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        using (var doc = JsonDocument.Parse((await _w.RunAsync("plugins", "ls", "-o", "json")).Out))
        {
            var entry = Assert.Single(doc.RootElement.EnumerateArray());
            Assert.Equal("testplugin", entry.GetProperty("name").GetString());
            Assert.Equal("filetest", entry.GetProperty("controllers")[0].GetString());
        }

        var runtimes = await _w.RunAsync("runtimes", "ls");
        Assert.Equal(["test", "filetest", "*"], Lines(runtimes.Out)[1].Split(' ', StringSplitOptions.RemoveEmptyEntries)[..3]);
        using (var doc = JsonDocument.Parse((await _w.RunAsync("runtimes", "ls", "-o", "json")).Out))
        {
            var entry = Assert.Single(doc.RootElement.EnumerateArray());
            Assert.True(entry.GetProperty("isDefault").GetBoolean());
            Assert.Equal(_w.CallLog, entry.GetProperty("details").GetProperty("CallLog").GetString());
        }
    }

    [Fact]
    public async Task Sandbox_lifecycle_in_table_format()
    {
        var id = _w.Id("web");
        var run = await _w.RunAsync("sandbox", "run", "--id", id, "--label", "tier=front");
        Assert.Equal((0, $"{id}\n", ""), run);
        var ls = Lines((await _w.RunAsync("sandbox", "ls")).Out);
        Assert.StartsWith("ID", ls[0]);
        var row = ls[1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal([id, id, "test", "Ready"], row[..4]);
        var inspect = await _w.RunAsync("sandbox", "inspect", id);
        Assert.Contains("State:", inspect.Out);
        Assert.Contains("Ready", inspect.Out);
        Assert.Contains($"test://{id}", inspect.Out);
        Assert.Equal((0, $"{id}\n", ""), await _w.RunAsync("sandbox", "stop", id));
        Assert.Equal((0, "0\n", ""), await _w.RunAsync("sandbox", "wait", id));
        Assert.Equal((0, $"{id}\n", ""), await _w.RunAsync("sandbox", "rm", id));
        Assert.Single(Lines((await _w.RunAsync("sandbox", "ls")).Out)); // the header only
        Assert.Single(_w.Calls("Shutdown"));
        Assert.Empty(_w.LiveResources());
    }

    [Fact]
    public async Task Sandbox_lifecycle_in_json_format()
    {
        var id = _w.Id("api");
        var run = await _w.RunAsync("sandbox", "run", "--id", id, "--name", "api-" + _w.Suffix, "-o", "json");
        Assert.Equal(0, run.Code);
        using (var doc = JsonDocument.Parse(run.Out))
        {
            Assert.Equal("Ready", doc.RootElement.GetProperty("state").GetString());
            Assert.Equal("filetest", doc.RootElement.GetProperty("controller").GetString());
        }

        using (var doc = JsonDocument.Parse((await _w.RunAsync("sandbox", "ls", "-o", "json")).Out))
        {
            Assert.Equal(id, Assert.Single(doc.RootElement.EnumerateArray()).GetProperty("id").GetString());
        }

        using (var doc = JsonDocument.Parse((await _w.RunAsync("sandbox", "inspect", "api-" + _w.Suffix, "-o", "json")).Out))
        {
            Assert.Equal(id, doc.RootElement.GetProperty("id").GetString());
        }

        using (var doc = JsonDocument.Parse((await _w.RunAsync("sandbox", "stop", id, "-o", "json")).Out))
        {
            Assert.Equal("Stopped", doc.RootElement.GetProperty("state").GetString());
        }

        using (var doc = JsonDocument.Parse((await _w.RunAsync("sandbox", "wait", id, "-o", "json")).Out))
        {
            Assert.Equal(0, doc.RootElement.GetProperty("code").GetInt32());
        }

        Assert.Equal(0, (await _w.RunAsync("sandbox", "rm", id, "-o", "json")).Code);
        Assert.Equal("[]", (await _w.RunAsync("sandbox", "ls", "-o", "json")).Out.Trim());
    }

    [Fact]
    public async Task Missing_sandboxes_and_invalid_ids_give_one_line_naming_them()
    {
        OneLineError(await _w.RunAsync("sandbox", "inspect", "nope"), 1, "sandbox 'nope' not found");
        OneLineError(await _w.RunAsync("sandbox", "stop", "nope"), 1, "'nope'");
        OneLineError(await _w.RunAsync("sandbox", "rm", "nope"), 1, "'nope'");
        OneLineError(await _w.RunAsync("sandbox", "wait", "nope"), 1, "'nope'");
        OneLineError(await _w.RunAsync("container", "ls", "nope"), 1, "'nope'");
        OneLineError(await _w.RunAsync("sandbox", "run", "--runtime", "kata"), 1, "unknown runtime 'kata'", "test");
        // Malformed values are usage errors (docs/cli.md), found before the host starts.
        OneLineError(await _w.RunAsync("sandbox", "rm", "../etc"), 2, "invalid sandbox id or name '../etc'");
        OneLineError(await _w.RunAsync("sandbox", "run", "--id", "a/b"), 2, "invalid sandbox id 'a/b'");
        OneLineError(await _w.RunAsync("sandbox", "run", "--label", "novalue"), 2, "--label 'novalue'");
        Assert.Empty(_w.Calls("Create"));
    }

    [Fact]
    public async Task Usage_errors_exit_2_with_one_line()
    {
        OneLineError(await _w.RunAsync("sandbox", "frobnicate"), 2, "frobnicate");
        OneLineError(await _w.RunAsync("sandbox", "inspect"), 2);
        OneLineError(await _w.RunAsync("-o", "yaml", "sandbox", "ls"), 2, "yaml");
    }

    [Fact]
    public async Task Verbose_adds_the_exception_chain_after_the_one_line()
    {
        var quiet = await _w.RunAsync("sandbox", "inspect", "nope");
        var verbose = await _w.RunAsync("-v", "sandbox", "inspect", "nope");
        Assert.Equal(1, verbose.Code);
        Assert.Equal(Lines(quiet.Err)[0], Lines(verbose.Err).First(l => l.StartsWith("isola: ")));
        Assert.Contains("Isola.IsolaException", verbose.Err);
        Assert.True(Lines(verbose.Err).Length > 1);
    }

    [Fact]
    public async Task A_broken_configuration_is_one_line_naming_the_key()
    {
        File.WriteAllText(_w.ConfigFile, $$"""{ "Isola": { "PluginsDir": "{{plugin.PluginsDir}}", "Runtimes": { "kata": { "Controller": "kata-x" } } } }""");
        OneLineError(await _w.RunAsync("sandbox", "ls"), 1, "Isola:Runtimes:kata:Controller: no controller named 'kata-x' (known: filetest)");
        File.Delete(_w.ConfigFile);
        OneLineError(await _w.RunAsync("sandbox", "ls"), 1, $"configuration file '{_w.ConfigFile}' does not exist");
    }
}
