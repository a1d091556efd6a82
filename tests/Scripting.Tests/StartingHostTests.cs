namespace Isola.Scripting.Tests;

/// <summary>A runner over a host that is still starting (what <c>isola run</c> does): the run reads and verifies its
/// cached script meanwhile, waits for the host only to compile or run, and fails with the host's error if it cannot start.</summary>
public sealed class StartingHostTests : IDisposable
{
    private readonly ScriptWorkspace _ws = new();
    private readonly CountingCompiler _compiler = new();

    public void Dispose() => _ws.Dispose();

    private ScriptRunner NewRunner(Task<IIsola> host) => new(host, _ws.Options, null, () => _compiler);

    [Fact]
    public async Task The_cache_entry_is_checked_before_the_host_has_started()
    {
        var script = _ws.Write("a.csx", "return 3;\n");
        await NewRunner(Task.FromResult<IIsola>(new RecordingIsola())).RunAsync(script, []);
        var entry = Assert.Single(_ws.CacheEntries());
        File.WriteAllText(Path.Combine(entry, "script.dll"), "garbage");

        var host = new TaskCompletionSource<IIsola>(TaskCreationOptions.RunContinuationsAsynchronously);
        var run = NewRunner(host.Task).RunAsync(script, []);
        for (var i = 0; i < 500 && Directory.Exists(entry); i++)
        {
            await Task.Delay(20);
        }

        // The corrupt entry was found and dropped while the host was still starting; the rebuild waits for it.
        Assert.False(Directory.Exists(entry), "the corrupt entry was not checked before the host started");
        Assert.False(run.IsCompleted);
        host.SetResult(new RecordingIsola());
        var result = await run;
        Assert.Equal((ScriptCacheStatus.Corrupt, ScriptOutcome.Succeeded, 3), (result.Cache, result.Outcome, result.ExitCode));
        Assert.Equal(2, _compiler.Count);
    }

    [Fact]
    public async Task The_public_overload_takes_a_host_still_starting()
    {
        var script = _ws.Write("a.csx", "return Isola.Runtimes.Count + 6;\n");
        var host = new TaskCompletionSource<IIsola>(TaskCreationOptions.RunContinuationsAsynchronously);

        var run = IsolaScripting.CreateRunner(host.Task, _ws.Options).RunAsync(script, []);
        host.SetResult(new RecordingIsola());
        var result = await run;

        Assert.Equal((ScriptOutcome.Succeeded, 7), (result.Outcome, result.ExitCode));
    }

    [Fact]
    public async Task A_missing_script_is_reported_without_waiting_for_the_host()
    {
        var never = new TaskCompletionSource<IIsola>().Task;
        var missing = Path.Combine(_ws.Scripts, "missing.csx");
        var e = await Assert.ThrowsAsync<IsolaException>(() => NewRunner(never).RunAsync(missing, []));
        Assert.Equal($"script '{missing}' not found", e.Message);
    }

    [Fact]
    public async Task A_host_that_fails_to_start_fails_the_run_with_its_error()
    {
        var script = _ws.Write("a.csx", "return 3;\n");
        var failure = IsolaException.InvalidArgument("Isola:Runtimes:kata:Controller: no controller named 'kata-x'");
        var e = await Assert.ThrowsAsync<IsolaException>(() => NewRunner(Task.FromException<IIsola>(failure)).RunAsync(script, []));
        Assert.Same(failure, e);
        Assert.Equal(0, _compiler.Count);
    }
}
