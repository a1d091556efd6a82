using System.Diagnostics;
using Isola.Cli.Tests.Support;

namespace Isola.Cli.Tests;

/// <summary>Bad input to a real `dotnet isola.dll` process: one line on stderr naming the value, file or root, and the
/// exit code docs/cli.md gives it: 2 for a command line that is wrong in itself (found before any host starts, so
/// not even the state root is created), 1 for a well-formed request that failed.</summary>
[Collection(TestPluginCollection.Name)]
public sealed class BadInputTests(TestPluginBuild plugin) : IDisposable
{
    private readonly CliWorld _w = new(plugin);

    public void Dispose() => _w.Dispose();

    private static string OneLine((int Code, string Out, string Err) result, int code)
    {
        Assert.True(result.Code == code, $"exit {result.Code}, expected {code}: {result.Err}");
        var line = Assert.Single(result.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("isola: ", line);
        Assert.DoesNotContain("Exception", line);
        return line;
    }

    [Theory]
    [InlineData("--dns 'not-an-ip'", "sandbox", "run", "--dns", "not-an-ip")]
    [InlineData("--dns '10'", "sandbox", "run", "--dns", "10.0.0.1", "--dns", "10")]
    [InlineData("invalid sandbox id 'a/b'", "sandbox", "run", "--id", "a/b")]
    [InlineData("invalid sandbox name '-x'", "sandbox", "run", "--name", "-x")]
    [InlineData("--label 'novalue'", "sandbox", "run", "--label", "novalue")]
    [InlineData("'../etc'", "sandbox", "rm", "ok", "../etc")]
    [InlineData("--timeout must not be negative", "sandbox", "stop", "x", "-t", "-1")]
    [InlineData("--user 'root'", "container", "run", "x", "--rootfs", "/r", "-u", "root", "--", "true")]
    [InlineData("--rm and --detach", "container", "run", "x", "--rootfs", "/r", "--rm", "-d", "--", "true")]
    [InlineData("invalid container id '../c'", "container", "rm", "x", "../c")]
    [InlineData("frobnicate", "sandbox", "frobnicate")]
    public async Task A_malformed_command_line_exits_2_before_anything_is_touched(string named, params string[] args)
    {
        var line = OneLine(await _w.ProcessAsync(null, args), 2);

        Assert.Contains(named, line);
        Assert.False(Directory.Exists(_w.Root), "a usage error started a host (the state root was created)");
        Assert.Empty(_w.Calls("Create"));
    }

    [Theory]
    [InlineData("--root")]
    [InlineData("--config")]
    public async Task An_empty_root_or_config_is_a_usage_error_naming_the_option(string option)
    {
        using var process = Start(option, "", "sandbox", "ls");
        var line = OneLine(await FinishAsync(process), 2);

        Assert.Contains($"{option} must not be empty", line);
    }

    [Fact]
    public async Task A_failed_request_exits_1()
    {
        Assert.Contains("sandbox 'ghost' not found", OneLine(await _w.ProcessAsync(null, "sandbox", "rm", "ghost"), 1));
        Assert.Contains("unknown runtime 'kata'", OneLine(await _w.ProcessAsync(null, "sandbox", "run", "--runtime", "kata"), 1));
    }

    [Fact]
    public async Task Malformed_configuration_JSON_names_the_file_line_and_column()
    {
        File.WriteAllText(_w.ConfigFile, "{\n  \"Isola\": {\n    \"Root\": x\n  }\n}\n");

        var line = OneLine(await _w.ProcessAsync(null, "sandbox", "ls"), 1);

        Assert.Equal($"isola: configuration file '{_w.ConfigFile}': invalid JSON at line 3, column 13: 'x' is an invalid start of a value", line);
    }

    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public async Task A_read_only_state_root_is_one_line_naming_it()
    {
        var root = Path.Combine(_w.Base, "ro-root");
        using var readOnly = ReadOnlyDirectory.Create(root);

        using var process = Start("--root", root, "sandbox", "run");
        var line = OneLine(await FinishAsync(process), 1);

        Assert.Contains($"state root '{root}'", line);
        Assert.Empty(_w.Calls("Create"));
    }

    [Fact]
    public async Task Json_output_leaves_plus_angle_brackets_and_non_ASCII_unescaped()
    {
        const string value = "a+b <c> & 'd' é";
        var id = _w.Id("json");
        Assert.Equal(0, (await _w.ProcessAsync(null, "sandbox", "run", "--id", id, "--label", "k=" + value)).Code);

        var inspect = await _w.ProcessAsync(null, "-o", "json", "sandbox", "inspect", id);

        Assert.Equal(0, inspect.Code);
        Assert.Contains($"\"k\": \"{value}\"", inspect.Out);
        Assert.DoesNotContain("\\u00", inspect.Out);
        Assert.Equal(0, (await _w.ProcessAsync(null, "sandbox", "rm", id)).Code);
    }

    /// <summary>isola with the world's configuration but the given global option in front (CliWorld always passes
    /// --root, and a second --root would be its own usage error).</summary>
    private Process Start(string option, string value, params string[] args)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in (string[])[Path.Combine(AppContext.BaseDirectory, "isola.dll"), option, value, .. args])
        {
            info.ArgumentList.Add(arg);
        }

        info.Environment["ISOLA_CONFIG"] = _w.ConfigFile;
        return Process.Start(info)!;
    }

    private static async Task<(int Code, string Out, string Err)> FinishAsync(Process process)
    {
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout, await stderr);
    }
}
