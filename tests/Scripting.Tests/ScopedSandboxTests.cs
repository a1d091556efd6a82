namespace Isola.Scripting.Tests;

/// <summary>The scoped helper tears sandboxes down when a script ends, fails or is cancelled.</summary>
public sealed class ScopedSandboxTests : IDisposable
{
    private readonly ScriptWorkspace _ws = new();
    private readonly RecordingIsola _isola = new();

    public void Dispose() => _ws.Dispose();

    // Top level: the Using(...) global. Inside a function: a plain `await using var`.
    private const string TwoPods = """
        var a = Using(await Isola.Sandboxes.RunScopedAsync(new SandboxSpec { Id = "scoped-a" }, Ct));
        async Task SecondPodAsync()
        {
            await using var b = await Isola.Sandboxes.RunScopedAsync(new SandboxSpec { Id = "scoped-b" }, Ct);
            await Task.Delay(Timeout.Infinite, Ct);
        }
        """;

    [Fact]
    public async Task Cancelling_mid_workflow_stops_and_removes_the_scripts_sandboxes()
    {
        var script = _ws.Write("cancel.csx", TwoPods + "\nawait SecondPodAsync();\nreturn 0;\n");
        using var cts = new CancellationTokenSource();
        _isola.Started += _ =>
        {
            if (_isola.History.Count == 2)
            {
                cts.CancelAfter(50);
            }
        };

        var result = await IsolaScripting.CreateRunner(_isola, _ws.Options).RunAsync(script, [], cts.Token);
        Assert.True(result.Outcome != ScriptOutcome.CompileError, string.Join('\n', result.Diagnostics));

        Assert.Equal((ScriptOutcome.Cancelled, 130), (result.Outcome, result.ExitCode));
        AssertAllTornDown(2);
    }

    [Fact]
    public async Task A_failing_workflow_removes_its_sandboxes()
    {
        var script = _ws.Write("fail.csx", TwoPods + """

            async Task FailAsync()
            {
                await using var c = await Isola.Sandboxes.RunScopedAsync(new SandboxSpec { Id = "scoped-c" }, Ct);
                throw new TimeoutException("probe never passed");
            }
            await FailAsync();
            """);

        var result = await IsolaScripting.CreateRunner(_isola, _ws.Options).RunAsync(script, []);

        Assert.Equal((ScriptOutcome.Failed, "TimeoutException: probe never passed"), (result.Outcome, result.Error));
        AssertAllTornDown(2);
    }

    [Fact]
    public async Task A_detached_sandbox_outlives_the_scope_and_teardown_is_idempotent()
    {
        await using (var kept = await _isola.RunScopedAsync(new SandboxSpec { Id = "kept" }))
        {
            kept.Detach();
        }

        var gone = await _isola.RunScopedAsync(new SandboxSpec { Id = "gone" });
        await gone.DisposeAsync();
        await gone.DisposeAsync();

        var (k, g) = (_isola.History.Single(s => s.Id == "kept"), _isola.History.Single(s => s.Id == "gone"));
        Assert.Equal((0, false), (k.StopCalls, k.Removed));
        Assert.Equal((1, true), (g.StopCalls, g.Removed));
    }

    [Fact]
    public async Task Teardown_of_an_already_removed_sandbox_is_not_an_error()
    {
        var pod = await _isola.RunScopedAsync(new SandboxSpec { Id = "removed-early" });
        await pod.RemoveAsync();

        await pod.DisposeAsync();

        Assert.True(_isola.History.Single().Removed);
    }

    [Fact]
    public async Task Statement_form_await_using_works_at_top_level()
    {
        var script = _ws.Write("block.csx", """
            await using (var pod = await Isola.Sandboxes.RunScopedAsync(new SandboxSpec { Id = "block" }, Ct))
            {
                Log.LogInformation("pod {Id} is {State}", pod.Id, pod.Info.State);
            }

            return (await Isola.Sandboxes.ListAsync(Ct)).Count;
            """);

        var result = await IsolaScripting.CreateRunner(_isola, _ws.Options).RunAsync(script, []);

        Assert.Equal((ScriptOutcome.Succeeded, 0), (result.Outcome, result.ExitCode));
        AssertAllTornDown(1);
    }

    [Fact]
    public async Task A_teardown_failure_fails_an_otherwise_successful_run()
    {
        var script = _ws.Write("teardown.csx", """
            sealed class Broken : IAsyncDisposable
            {
                public ValueTask DisposeAsync() => throw new IOException("cannot unmount");
            }
            Using(new Broken());
            return 0;
            """);

        var result = await IsolaScripting.CreateRunner(_isola, _ws.Options).RunAsync(script, []);

        Assert.Equal((ScriptOutcome.Failed, 1, "IOException: cannot unmount"), (result.Outcome, result.ExitCode, result.Error));
        Assert.Equal(3, Assert.Single(result.Diagnostics).Line);
    }

    private void AssertAllTornDown(int expected)
    {
        Assert.Equal(expected, _isola.History.Count);
        Assert.All(_isola.History, s => Assert.Equal((1, true), (s.StopCalls, s.Removed)));
        Assert.Empty(_isola.ListAsync().Result);
    }
}

internal static class RecordingIsolaExtensions
{
    public static Task<ScopedSandbox> RunScopedAsync(this RecordingIsola isola, SandboxSpec spec) =>
        isola.Sandboxes.RunScopedAsync(spec);
}
