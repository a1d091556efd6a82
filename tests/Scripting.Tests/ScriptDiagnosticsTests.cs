namespace Isola.Scripting.Tests;

/// <summary>Exit codes, globals, and compile/run-time errors pointing at the right file and line.</summary>
public sealed class ScriptDiagnosticsTests : IDisposable
{
    private readonly ScriptWorkspace _ws = new();
    private readonly IScriptRunner _runner;

    public ScriptDiagnosticsTests() => _runner = IsolaScripting.CreateRunner(new RecordingIsola(), _ws.Options);

    public void Dispose() => _ws.Dispose();

    [Fact]
    public async Task Int_result_is_the_exit_code_and_globals_are_visible()
    {
        var script = _ws.Write("args.csx", """
            Log.LogInformation("running {Path}", ScriptPath);
            if (Isola.Runtimes.Single().Name != "runc") return 9;
            return int.Parse(Args[0]) + Args.Length;
            """);

        var result = await _runner.RunAsync(script, ["40", "x"]);

        Assert.Equal(ScriptOutcome.Succeeded, result.Outcome);
        Assert.Equal(42, result.ExitCode);
    }

    [Fact]
    public async Task A_script_without_a_result_exits_zero()
    {
        var result = await _runner.RunAsync(_ws.Write("none.csx", "var x = new List<int> { 1 }.Sum();\n"), []);
        Assert.Equal((ScriptOutcome.Succeeded, 0), (result.Outcome, result.ExitCode));
    }

    [Fact]
    public async Task Compile_error_names_file_line_and_column()
    {
        var script = _ws.Write("bad.csx", "var a = 1;\nvar b = a + undefinedName;\n");

        var result = await _runner.RunAsync(script, []);

        Assert.Equal((ScriptOutcome.CompileError, 1), (result.Outcome, result.ExitCode));
        var error = Assert.Single(result.Diagnostics, d => d.IsError);
        Assert.Equal($"{script}:2:13: error CS0103: The name 'undefinedName' does not exist in the current context", error.ToString());
    }

    [Fact]
    public async Task Compile_error_in_a_loaded_file_names_that_file()
    {
        var lib = _ws.Write("lib/helpers.csx", "static int Twice(int x) => x * 2;\n\nstatic int Broken() => \"text\";\n");
        var script = _ws.Write("main.csx", "#load \"lib/helpers.csx\"\nreturn Twice(2);\n");

        var result = await _runner.RunAsync(script, []);

        var error = Assert.Single(result.Diagnostics, d => d.IsError);
        Assert.Equal((lib, 3, "CS0029"), (error.File, error.Line, error.Id));
        Assert.StartsWith($"{lib}:3:", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Missing_loaded_file_is_a_compile_error_on_the_load_line()
    {
        var script = _ws.Write("main.csx", "// header\n#load \"nope.csx\"\nreturn 0;\n");

        var result = await _runner.RunAsync(script, []);

        var error = Assert.Single(result.Diagnostics, d => d.IsError);
        Assert.Equal((script, 2), (error.File, error.Line));
    }

    [Fact]
    public async Task Runtime_exception_names_the_script_line_and_exits_one()
    {
        var script = _ws.Write("throws.csx", "var x = 1;\n\nif (x == 1)\n    throw new InvalidOperationException(\"boom\");\nreturn 0;\n");

        var result = await _runner.RunAsync(script, []);

        Assert.Equal((ScriptOutcome.Failed, 1), (result.Outcome, result.ExitCode));
        Assert.Equal("InvalidOperationException: boom", result.Error);
        var where = Assert.Single(result.Diagnostics);
        Assert.Equal((script, 4), (where.File, where.Line));
    }

    [Fact]
    public async Task Runtime_exception_in_a_loaded_file_names_that_file_after_an_await()
    {
        var lib = _ws.Write("lib.csx", "async Task<int> Fail(string what)\n{\n    await Task.Yield();\n    throw new IsolaException(IsolaErrorCode.NotFound, $\"sandbox '{what}' not found\");\n}\n");
        var script = _ws.Write("main.csx", "#load \"lib.csx\"\nawait Task.Delay(1);\nreturn await Fail(\"pod-1\");\n");

        var result = await _runner.RunAsync(script, []);

        Assert.Equal(ScriptOutcome.Failed, result.Outcome);
        Assert.Equal("IsolaException: sandbox 'pod-1' not found", result.Error);
        var where = Assert.Single(result.Diagnostics);
        Assert.Equal((lib, 4), (where.File, where.Line));
        Assert.Contains($"{script}:line 3", result.ErrorDetail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Missing_script_is_a_not_found_error_naming_it()
    {
        var path = Path.Combine(_ws.Scripts, "absent.csx");
        var e = await Assert.ThrowsAsync<IsolaException>(() => _runner.RunAsync(path, []));
        Assert.Equal(IsolaErrorCode.NotFound, e.Code);
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
    }
}
