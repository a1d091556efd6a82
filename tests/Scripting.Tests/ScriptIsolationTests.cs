namespace Isola.Scripting.Tests;

/// <summary>Scripts compile against the public API only: no plugin types, no host internals, #r by path only.</summary>
public sealed class ScriptIsolationTests : IDisposable
{
    private readonly ScriptWorkspace _ws = new();

    public void Dispose() => _ws.Dispose();

    private async Task<ScriptDiagnostic> SingleError(IIsola isola, string script)
    {
        var result = await IsolaScripting.CreateRunner(isola, _ws.Options).RunAsync(script, []);
        Assert.Equal(ScriptOutcome.CompileError, result.Outcome);
        return Assert.Single(result.Diagnostics, d => d.IsError);
    }

    [Fact]
    public async Task A_plugin_implementation_type_is_not_reachable()
    {
        // InProcessTestPlugin lives in this (test) assembly, exactly like a plugin's types live in the plugin's.
        var name = typeof(InProcessTestPlugin).FullName;
        var script = _ws.Write("plugin.csx", $"var p = new {name}();\nreturn 0;\n");

        var error = await SingleError(new RecordingIsola(), script);

        Assert.Equal(("CS0234", 1), (error.Id, error.Line));
        Assert.Contains("does not exist in the namespace", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Isola.Scripting.ScriptCache")]
    [InlineData("Isola.Hosting.Sandboxes.SandboxManager")]
    public async Task Host_and_scripting_internals_are_not_reachable(string internalType)
    {
        var script = _ws.Write("internal.csx", $"var c = typeof({internalType});\nreturn 0;\n");

        var error = await SingleError(new RecordingIsola(), script);

        Assert.Equal("CS0122", error.Id);
    }

    [Fact]
    public async Task Referencing_an_assembly_in_a_plugin_folder_is_refused_naming_the_folder()
    {
        var pluginDir = Path.Combine(_ws.Root, "plugins", "test");
        Directory.CreateDirectory(pluginDir);
        var copy = Path.Combine(pluginDir, "Isola.Scripting.Tests.dll");
        File.Copy(typeof(InProcessTestPlugin).Assembly.Location, copy);
        var isola = new RecordingIsola(new PluginInfo("test", pluginDir, "1.0.0", ["fake"], [], []));
        var script = _ws.Write("r.csx", $"#r \"{copy}\"\nreturn 0;\n");

        var error = await SingleError(isola, script);

        Assert.Equal(("CS0006", 1), (error.Id, error.Line));
        Assert.Contains($"plugin folder {pluginDir}", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("nuget: Newtonsoft.Json, 13.0.3", "NuGet references are not supported")]
    [InlineData("System.Net.Mail", "path of an assembly file")]
    [InlineData("missing/thing.dll", "no such file")]
    public async Task Hash_r_takes_existing_assembly_paths_only(string reference, string reason)
    {
        var script = _ws.Write("r.csx", $"#r \"{reference}\"\nreturn 0;\n");

        var error = await SingleError(new RecordingIsola(), script);

        Assert.Equal("CS0006", error.Id);
        Assert.Contains(reason, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_assembly_named_by_path_is_referenced_and_loaded_with_the_script()
    {
        // Any assembly outside the plugin folders will do; this test assembly is one, and it is also loaded in the
        // default context, so the script's copy must come from the named path (a private copy).
        var libDir = Path.Combine(_ws.Root, "lib");
        Directory.CreateDirectory(libDir);
        var lib = Path.Combine(libDir, "Isola.Scripting.Tests.dll");
        File.Copy(typeof(InProcessTestPlugin).Assembly.Location, lib);
        var script = _ws.Write("r.csx", $"#r \"../lib/Isola.Scripting.Tests.dll\"\nvar p = new {typeof(InProcessTestPlugin).FullName}();\nreturn p.Name == \"in-process-test\" ? 11 : 12;\n");

        var result = await IsolaScripting.CreateRunner(new RecordingIsola(), _ws.Options).RunAsync(script, []);

        Assert.Equal((ScriptOutcome.Succeeded, 11), (result.Outcome, result.ExitCode));
    }
}
