namespace Isola.Integration.Tests.Scripting;

/// <summary><c>isola run</c> end to end, as a user runs it: output, exit codes, diagnostics, the cache across
/// processes, and Ctrl+C.</summary>
public sealed class IsolaRunCommandTests : IDisposable
{
    private readonly string _work = Path.Combine(Path.GetTempPath(), "isola-scr-" + Guid.NewGuid().ToString("N")[..12]);

    public IsolaRunCommandTests() => Directory.CreateDirectory(_work);

    public void Dispose()
    {
        _leaks?.Dispose();
        Directory.Delete(_work, recursive: true);
    }

    private LeakWatch? _leaks;

    /// <summary>Settings for a real runc runtime, watching the state root for what the workflow creates.</summary>
    private Dictionary<string, string?> RealPods()
    {
        _leaks = new LeakWatch(Path.Combine(_work, "root"), _work);
        return RealPodHost.Settings(_work);
    }

    private string Cache => Path.Combine(_work, "cache");

    /// <summary>A host with no plugins and no runtimes: enough for scripts that do not touch sandboxes.</summary>
    private Dictionary<string, string?> NoPlugins()
    {
        var empty = Path.Combine(_work, "no-plugins");
        Directory.CreateDirectory(empty);
        return new() { ["Isola:Root"] = Path.Combine(_work, "root"), ["Isola:PluginsDir"] = empty };
    }

    private string Write(string name, string text)
    {
        var path = Path.Combine(_work, name);
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public async Task Second_run_comes_from_the_cache_without_loading_the_compiler()
    {
        var script = Write("args.csx", "Console.WriteLine(string.Join(\"+\", Args));\nreturn Args.Length;\n");

        using var first = IsolaProcess.Start(NoPlugins(), Cache, "-v", "run", script, "--", "a", "--b");
        Assert.Equal(2, await first.WaitAsync(TimeSpan.FromMinutes(1)));
        using var second = IsolaProcess.Start(NoPlugins(), Cache, "-v", "run", script, "--", "a", "--b");
        Assert.Equal(2, await second.WaitAsync(TimeSpan.FromMinutes(1)));

        Assert.Equal("a+--b", first.Stdout.Trim());
        Assert.Equal("a+--b", second.Stdout.Trim());
        Assert.Contains("(Miss)", first.Stderr, StringComparison.Ordinal);
        Assert.Contains("(Hit)", second.Stderr, StringComparison.Ordinal);
        Assert.Contains("compiler loaded in this process: False", second.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("Compiled", second.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Compile_error_prints_file_line_col_and_exits_one()
    {
        Write("lib.csx", "int Broken() => \"no\";\n");
        var script = Write("main.csx", "#load \"lib.csx\"\nreturn Broken();\n");

        using var isola = IsolaProcess.Start(NoPlugins(), Cache, "run", script);

        Assert.Equal(1, await isola.WaitAsync(TimeSpan.FromMinutes(1)));
        Assert.StartsWith($"{Path.Combine(_work, "lib.csx")}:1:17: error CS0029: ", isola.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Uncaught_exception_prints_the_script_line_and_exits_one()
    {
        var script = Write("throws.csx", "var n = Args.Length;\nthrow new InvalidOperationException($\"bad input {n}\");\n");

        using var isola = IsolaProcess.Start(NoPlugins(), Cache, "run", script);

        Assert.Equal(1, await isola.WaitAsync(TimeSpan.FromMinutes(1)));
        Assert.Equal($"{script}:2: error InvalidOperationException: bad input 0", isola.Stderr.Trim());
    }

    [Fact]
    public async Task Missing_script_is_one_line_naming_it()
    {
        using var isola = IsolaProcess.Start(NoPlugins(), Cache, "run", Path.Combine(_work, "nope.csx"));

        Assert.Equal(1, await isola.WaitAsync(TimeSpan.FromMinutes(1)));
        Assert.Equal($"isola: script '{Path.Combine(_work, "nope.csx")}' not found", isola.Stderr.Trim());
    }

    [Fact]
    public async Task Hello_sandbox_prints_its_line_and_leaves_nothing()
    {
        using var isola = IsolaProcess.Start(RealPods(), Cache, "run", RealPodHost.Example("hello-sandbox.csx"));

        var code = await isola.WaitAsync(TimeSpan.FromMinutes(2));

        Assert.True(code == 0, $"exit {code}: {isola.Stderr}");
        Assert.Matches("^hello from sandbox [A-Za-z0-9._-]+$", isola.Stdout.Trim());
        AssertNoSandboxLeft();
    }

    [Fact]
    public async Task Ctrl_c_tears_down_the_pods_and_exits_130()
    {
        var script = Write("wait.csx", $$"""
            #load "{{RealPodHost.Example("lib/busybox.csx")}}"
            var rootfs = Using(BusyboxRootfs.Create());
            var pod = Using(await Isola.Sandboxes.RunScopedAsync(new SandboxSpec(), Ct));
            await pod.Containers.RunAsync(new ContainerSpec { Rootfs = rootfs.Path, Args = ["/bin/busybox", "sleep", "600"] }, Ct);
            Log.LogInformation("workflow ready");
            await Task.Delay(Timeout.Infinite, Ct);
            """);
        using var isola = IsolaProcess.Start(RealPods(), Cache, "run", script);
        Assert.True(await isola.WaitForStderrAsync("workflow ready", TimeSpan.FromMinutes(2)), isola.Stderr);
        Assert.Single(_leaks!.LiveShims());
        Assert.Equal(2, _leaks.LiveContainers().Count);

        isola.Signal("INT");

        Assert.Equal(130, await isola.WaitAsync(TimeSpan.FromMinutes(1)));
        AssertNoSandboxLeft();
    }

    private void AssertNoSandboxLeft()
    {
        var root = Path.Combine(_work, "root");
        if (Directory.Exists(root))
        {
            Assert.DoesNotContain(Directory.GetDirectories(root), d => !Path.GetFileName(d).StartsWith('.'));
        }

        Assert.Empty(RealPodHost.ProcessesUnder(_work));
        Assert.NotEmpty(_leaks!.Ids);
        _leaks.AssertNothingLeft();
    }
}
