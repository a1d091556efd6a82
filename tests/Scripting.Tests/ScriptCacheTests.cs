namespace Isola.Scripting.Tests;

/// <summary>The compiled-script cache: hits skip the compiler, any source change invalidates, bad entries are rebuilt.</summary>
public sealed class ScriptCacheTests : IDisposable
{
    private readonly ScriptWorkspace _ws = new();
    private readonly CountingCompiler _compiler = new();

    public void Dispose() => _ws.Dispose();

    private ScriptRunner NewRunner() => new(new RecordingIsola(), _ws.Options, null, () => _compiler);

    [Fact]
    public async Task Second_run_of_an_unchanged_script_does_not_compile_even_in_a_new_runner()
    {
        var script = _ws.Write("a.csx", "#load \"lib.csx\"\nreturn Value();\n");
        _ws.Write("lib.csx", "int Value() => 5;\n");

        var first = await NewRunner().RunAsync(script, []);
        var second = await NewRunner().RunAsync(script, []);
        var third = await NewRunner().RunAsync(script, []);

        Assert.Equal((ScriptCacheStatus.Miss, 5), (first.Cache, first.ExitCode));
        Assert.Equal((ScriptCacheStatus.Hit, 5), (second.Cache, second.ExitCode));
        Assert.Equal(ScriptCacheStatus.Hit, third.Cache);
        Assert.Equal(1, _compiler.Count);
        Assert.Single(_ws.CacheEntries());
    }

    [Fact]
    public async Task Changing_a_loaded_file_invalidates_the_entry()
    {
        var script = _ws.Write("a.csx", "#load \"sub/lib.csx\"\nreturn Value();\n");
        var lib = _ws.Write("sub/lib.csx", "int Value() => 5;\n");
        var runner = NewRunner();
        await runner.RunAsync(script, []);

        File.WriteAllText(lib, "int Value() => 6;\n");
        var changed = await runner.RunAsync(script, []);
        var again = await runner.RunAsync(script, []);

        Assert.Equal((ScriptCacheStatus.Stale, 6), (changed.Cache, changed.ExitCode));
        Assert.Equal((ScriptCacheStatus.Hit, 6), (again.Cache, again.ExitCode));
        Assert.Equal(2, _compiler.Count);
    }

    [Fact]
    public async Task Changing_the_script_itself_compiles_a_new_entry()
    {
        var script = _ws.Write("a.csx", "return 1;\n");
        var runner = NewRunner();
        await runner.RunAsync(script, []);
        File.WriteAllText(script, "return 2;\n");

        var result = await runner.RunAsync(script, []);

        Assert.Equal((ScriptCacheStatus.Miss, 2), (result.Cache, result.ExitCode));
        Assert.Equal(2, _compiler.Count);
    }

    [Theory]
    [InlineData("script.dll", "garbage")]
    [InlineData("script.dll", "")]
    [InlineData("manifest", "{ not a manifest")]
    [InlineData("manifest", "isola-script-cache 1\n")]
    [InlineData("manifest", "isola-script-cache 1\ntoolchain x\nimage y\ncreated 2026-01-01T00:00:00Z\nsource 00 /a.csx\n")]
    public async Task A_corrupt_entry_is_rebuilt_not_fatal(string file, string content)
    {
        var script = _ws.Write("a.csx", "return 3;\n");
        var runner = NewRunner();
        await runner.RunAsync(script, []);
        File.WriteAllText(Path.Combine(Assert.Single(_ws.CacheEntries()), file), content);

        var rebuilt = await runner.RunAsync(script, []);
        var after = await runner.RunAsync(script, []);

        Assert.Equal((ScriptCacheStatus.Corrupt, ScriptOutcome.Succeeded, 3), (rebuilt.Cache, rebuilt.Outcome, rebuilt.ExitCode));
        Assert.Equal(ScriptCacheStatus.Hit, after.Cache);
        Assert.Equal(2, _compiler.Count);
    }

    [Fact]
    public async Task An_image_that_loads_but_is_not_a_script_is_rebuilt()
    {
        var script = _ws.Write("a.csx", "return 4;\n");
        var runner = NewRunner();
        await runner.RunAsync(script, []);
        var entry = Assert.Single(_ws.CacheEntries());
        // A valid assembly with a matching hash but no Submission#0: the manifest is rewritten to "trust" it.
        var foreign = File.ReadAllBytes(typeof(ScriptCacheTests).Assembly.Location);
        File.WriteAllBytes(Path.Combine(entry, "script.dll"), foreign);
        var manifestPath = Path.Combine(entry, "manifest");
        var manifest = File.ReadAllText(manifestPath);
        var oldHash = System.Text.RegularExpressions.Regex.Match(manifest, "^image ([0-9a-f]{32})$", System.Text.RegularExpressions.RegexOptions.Multiline).Groups[1].Value;
        File.WriteAllText(manifestPath, manifest.Replace(oldHash, ScriptHashing.OfBytes(foreign), StringComparison.Ordinal));

        var result = await runner.RunAsync(script, []);

        Assert.Equal((ScriptCacheStatus.Corrupt, 4), (result.Cache, result.ExitCode));
        Assert.Equal(2, _compiler.Count);
    }

    [Fact]
    public async Task Compile_errors_are_not_cached_and_warnings_do_not_fail()
    {
        var bad = _ws.Write("bad.csx", "return nope;\n");
        var warn = _ws.Write("warn.csx", "string s = null;\nreturn s is null ? 0 : 1;\n");
        var runner = NewRunner();

        await runner.RunAsync(bad, []);
        await runner.RunAsync(bad, []);
        var warned = await runner.RunAsync(warn, []);

        Assert.Equal(3, _compiler.Count);
        Assert.Equal(ScriptOutcome.Succeeded, warned.Outcome);
        var warning = Assert.Single(warned.Diagnostics);
        Assert.Equal($"{warn}:1:12: warning CS8625: Cannot convert null literal to non-nullable reference type.", warning.ToString());
    }

    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public async Task Cache_directory_is_private_to_its_owner()
    {
        await NewRunner().RunAsync(_ws.Write("a.csx", "return 0;\n"), []);

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(_ws.CacheDir));
    }

    [Theory]
    [InlineData("group-writable")]
    [InlineData("other-writable")]
    [InlineData("foreign owner")]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public async Task A_cache_others_could_write_to_is_neither_read_nor_written(string how)
    {
        var script = _ws.Write("a.csx", "return 3;\n");
        await NewRunner().RunAsync(script, []);
        var entry = Assert.Single(_ws.CacheEntries());
        const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
        switch (how)
        {
            case "group-writable":
                File.SetUnixFileMode(_ws.CacheDir, Private | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute);
                break;
            case "other-writable":
                // Only the entry's own directory: each level is checked before anything in it is read.
                File.SetUnixFileMode(entry, Private | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute);
                break;
            default:
                Assert.True(Environment.IsPrivilegedProcess, "changing a directory's owner needs root");
                Assert.Equal(0, Chown(_ws.CacheDir, 65534, 65534));
                break;
        }

        var stamp = Directory.GetLastWriteTimeUtc(entry);
        var result = await NewRunner().RunAsync(script, []);

        Assert.Equal((ScriptCacheStatus.Untrusted, 3), (result.Cache, result.ExitCode));
        Assert.Equal(2, _compiler.Count); // compiled again instead of loading what someone else could have put there
        Assert.Equal(stamp, Directory.GetLastWriteTimeUtc(entry)); // and nothing was stored into it
        Assert.Single(_ws.CacheEntries());
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "chown", SetLastError = true)]
    private static extern int Chown(string path, uint owner, uint group);

    [Fact]
    public void Default_cache_dir_follows_XDG_CACHE_HOME()
    {
        var options = new ScriptingOptions();
        var xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        var expected = string.IsNullOrEmpty(xdg)
            ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "isola", "scripts")
            : Path.Combine(xdg, "isola", "scripts");
        Assert.Equal(expected, options.ResolveCacheDir());
        Assert.Equal(_ws.CacheDir, _ws.Options.ResolveCacheDir());
    }
}
