using Isola.Cli.Tests.Support;

namespace Isola.Cli.Tests;

/// <summary>Real `dotnet isola.dll` processes: races between processes, and crashes (SIGKILL by the test plugin)
/// right after each persisted intent, reconciled by the next isola process.</summary>
[Collection(TestPluginCollection.Name)]
public sealed class ProcessTests(TestPluginBuild plugin) : IDisposable
{
    private readonly CliWorld _w = new(plugin);

    public void Dispose() => _w.Dispose();

    private static Dictionary<string, string> CrashOn(string operation) => new() { ["ISOLA__RUNTIMES__test__OPTIONS__CRASHON"] = operation };

    [Fact]
    public async Task A_real_process_prints_results_on_stdout_and_one_line_errors_on_stderr()
    {
        var ok = await _w.ProcessAsync(null, "sandbox", "ls");
        Assert.Equal(0, ok.Code);
        Assert.StartsWith("ID", ok.Out);
        var missing = await _w.ProcessAsync(null, "sandbox", "rm", "ghost");
        Assert.Equal((1, ""), (missing.Code, missing.Out));
        Assert.Equal("isola: sandbox 'ghost' not found\n", missing.Err);
    }

    [Fact]
    public async Task Two_processes_racing_sandbox_rm_on_one_id_run_Shutdown_once()
    {
        var id = _w.Id("race");
        Assert.Equal(0, (await _w.RunAsync("sandbox", "run", "--id", id)).Code);
        _w.WriteConfig(slowMs: 300);
        using var a = _w.Start(null, "sandbox", "rm", id);
        using var b = _w.Start(null, "sandbox", "rm", id);
        var outputs = await Task.WhenAll(Finish(a), Finish(b));
        // Each exits 0: one removed it, the other found it gone (or already removed) and counts that as done...
        // ...unless the loser resolved the id only after the winner deleted it, which is a clean NotFound.
        Assert.All(outputs, o => Assert.True(o.Code == 0 || o.Err == $"isola: sandbox '{id}' not found\n", $"{o.Code}: {o.Err}"));
        Assert.Contains(outputs, o => o.Code == 0);
        Assert.Single(_w.Calls("Shutdown"));
        Assert.Single(_w.Calls("Stop"));
        Assert.Empty(_w.LiveResources());
        Assert.False(Directory.Exists(Path.Combine(_w.Root, id)));
    }

    [Fact]
    public async Task Sandbox_locks_exclude_other_processes_even_with_dotnet_file_locking_disabled()
    {
        var id = _w.Id("flock");
        Assert.Equal(0, (await _w.RunAsync("sandbox", "run", "--id", id)).Code);
        _w.WriteConfig(slowMs: 1500);
        // .NET implements FileShare.None with flock(2) unless this is set; Isola's locks must not depend on it.
        var noDotnetLocking = new Dictionary<string, string> { ["DOTNET_SYSTEM_IO_DISABLEFILELOCKING"] = "1" };

        using var first = _w.Start(noDotnetLocking, "sandbox", "rm", id);
        await WaitUntilAsync(() => _w.Calls("Stop").Count == 1, "the first rm to be inside Stop");
        Assert.True(HoldsExclusiveFlock(first.Id, Path.Combine(_w.Root, id, "lock")),
            "the process inside Stop holds no flock(LOCK_EX) on the sandbox's lock file");
        using var second = _w.Start(noDotnetLocking, "sandbox", "rm", id);
        var outputs = await Task.WhenAll(Finish(first), Finish(second));

        Assert.All(outputs, o => Assert.True(o.Code == 0 || o.Err == $"isola: sandbox '{id}' not found\n", $"{o.Code}: {o.Err}"));
        Assert.Single(_w.Calls("Stop"));
        Assert.Single(_w.Calls("Shutdown"));
        Assert.Empty(_w.LiveResources());
    }

    /// <summary>True when <paramref name="pid"/> has <paramref name="path"/> open with an exclusive flock on that
    /// descriptor, as the kernel reports it in /proc/PID/fdinfo.</summary>
    private static bool HoldsExclusiveFlock(int pid, string path)
    {
        foreach (var fd in Directory.EnumerateFileSystemEntries($"/proc/{pid}/fd"))
        {
            try
            {
                if (new FileInfo(fd).LinkTarget == path &&
                    File.ReadAllLines($"/proc/{pid}/fdinfo/{Path.GetFileName(fd)}").Any(l => l.StartsWith("lock:", StringComparison.Ordinal) &&
                        l.Contains("FLOCK", StringComparison.Ordinal) && l.Contains("WRITE", StringComparison.Ordinal)))
                {
                    return true;
                }
            }
            catch (IOException)
            {
                // The descriptor was closed while we looked.
            }
        }

        return false;
    }

    private static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < until, $"timed out waiting for {what}");
            await Task.Delay(20);
        }
    }

    [Theory]
    [InlineData("Create")]
    [InlineData("Start")]
    public async Task A_process_killed_inside_create_or_start_is_rolled_back_by_the_next_one(string operation)
    {
        var id = _w.Id("crash");
        var crashed = await _w.ProcessAsync(CrashOn(operation), "sandbox", "run", "--id", id);
        Assert.Equal(137, crashed.Code);
        Assert.Equal([id], _w.LiveResources()); // the controller did its side effect; the host never finished
        var ls = await _w.RunAsync("sandbox", "ls", "-o", "json");
        Assert.Equal("[]", ls.Out.Trim());
        Assert.Single(_w.Calls("Shutdown"));
        Assert.Empty(_w.LiveResources());
        Assert.False(Directory.Exists(Path.Combine(_w.Root, id)));
    }

    [Fact]
    public async Task A_process_killed_inside_stop_is_finished_by_the_next_one()
    {
        var id = _w.Id("crash");
        Assert.Equal(0, (await _w.RunAsync("sandbox", "run", "--id", id)).Code);
        Assert.Equal(137, (await _w.ProcessAsync(CrashOn("Stop"), "sandbox", "stop", id)).Code);
        var ls = await _w.RunAsync("sandbox", "ls");
        Assert.Contains("Stopped", ls.Out);
        Assert.Equal(2, _w.Calls("Stop").Count);
        Assert.Equal(0, (await _w.RunAsync("sandbox", "rm", id)).Code);
        Assert.Empty(_w.LiveResources());
    }

    [Fact]
    public async Task A_process_killed_inside_shutdown_is_finished_by_the_next_one()
    {
        var id = _w.Id("crash");
        Assert.Equal(0, (await _w.RunAsync("sandbox", "run", "--id", id)).Code);
        Assert.Equal(137, (await _w.ProcessAsync(CrashOn("Shutdown"), "sandbox", "rm", id)).Code);
        Assert.Equal([id], _w.LiveResources());
        Assert.Equal("[]", (await _w.RunAsync("sandbox", "ls", "-o", "json")).Out.Trim());
        Assert.Equal(2, _w.Calls("Shutdown").Count);
        Assert.Empty(_w.LiveResources());
    }

    private static async Task<(int Code, string Out, string Err)> Finish(System.Diagnostics.Process process)
    {
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout, await stderr);
    }
}
