using Isola.Hosting.Tests.Doubles;

namespace Isola.Scripting.Tests;

/// <summary>Scripts on a real <see cref="Isola.Hosting.IsolaHost"/> with an in-process plugin (the engine's own
/// controller double): teardown goes through the real state machine and state store.</summary>
public sealed class ScriptOnIsolaHostTests : IDisposable
{
    private readonly ScriptWorkspace _ws = new();
    private readonly TestRoot _root = new();

    public void Dispose()
    {
        _ws.Dispose();
        _root.Dispose();
    }

    [Fact]
    public async Task Cancelling_mid_workflow_shuts_down_and_forgets_the_scripts_sandboxes()
    {
        await using var host = await _root.StartAsync();
        var script = _ws.Write("pods.csx", """
            var ids = new List<SandboxId>();
            for (var i = 0; i < 3; i++)
            {
                var pod = Using(await Isola.Sandboxes.RunScopedAsync(new SandboxSpec { Name = $"wf-{i}" }, Ct));
                ids.Add(pod.Id);
            }
            Log.LogInformation("running {Ids}", string.Join(",", ids));
            await Task.Delay(Timeout.Infinite, Ct);
            """);
        using var cts = new CancellationTokenSource();
        var run = IsolaScripting.CreateRunner(host, _ws.Options).RunAsync(script, [], cts.Token);
        while (_root.Controller.Live.Count(p => p.Value == FakeController.Phase.Running) < 3 && !run.IsCompleted)
        {
            await Task.Delay(10);
        }

        cts.Cancel();
        var result = await run;

        Assert.Equal((ScriptOutcome.Cancelled, 130), (result.Outcome, result.ExitCode));
        Assert.Empty(await host.Sandboxes.ListAsync());
        Assert.Empty(_root.Controller.Live);
        Assert.Equal(3, _root.Controller.Calls("Shutdown"));
        Assert.DoesNotContain(Directory.GetDirectories(_root.Root), d => !Path.GetFileName(d).StartsWith('.'));
    }

    [Fact]
    public async Task The_loaded_plugins_types_are_not_reachable_from_a_script()
    {
        await using var host = await _root.StartAsync();
        var script = _ws.Write("reach.csx", $"""
            var plugin = Isola.Plugins.Single(p => p.Name == "fake-plugin");
            var controller = new {typeof(FakeController).FullName}();
            return 0;
            """);

        var result = await IsolaScripting.CreateRunner(host, _ws.Options).RunAsync(script, []);

        var error = Assert.Single(result.Diagnostics, d => d.IsError);
        Assert.Equal((ScriptOutcome.CompileError, "CS0234", 2), (result.Outcome, error.Id, error.Line));
    }
}
