using Isola.Scripting;

namespace Isola.Integration.Tests.Scripting;

/// <summary>The example workflows run for real (shim + runc pause sandbox, busybox containers) and leave nothing behind.</summary>
public sealed class ExampleWorkflowTests
{
    private static async Task RunExampleAsync(string name, params string[] args)
    {
        await using var pods = await RealPodHost.StartAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));

        var result = await pods.Runner.RunAsync(RealPodHost.Example(name), args, timeout.Token);

        Assert.True(result.Outcome == ScriptOutcome.Succeeded && result.ExitCode == 0,
            $"{name}: {result.Outcome} exit {result.ExitCode}: {result.Error}\n{string.Join('\n', result.Diagnostics)}\n{result.ErrorDetail}");
        Assert.NotEmpty(pods.Leaks.Ids);
        await pods.AssertNothingLeftAsync();
    }

    [Fact]
    public Task Hello_sandbox() => RunExampleAsync("hello-sandbox.csx");

    [Fact]
    public Task Parallel_pods() => RunExampleAsync("parallel-pods.csx", "3");

    [Fact]
    public Task Custom_lifecycle() => RunExampleAsync("custom-lifecycle.csx");

    [Fact]
    public async Task Cancelling_mid_workflow_stops_and_removes_the_pods_it_created()
    {
        await using var pods = await RealPodHost.StartAsync();
        var script = Path.Combine(pods.Work, "cancel.csx");
        File.WriteAllText(script, $$"""
            #load "{{RealPodHost.Example("lib/busybox.csx")}}"
            var rootfs = Using(BusyboxRootfs.Create());
            for (var i = 0; i < 2; i++)
            {
                var pod = Using(await Isola.Sandboxes.RunScopedAsync(new SandboxSpec(), Ct));
                await pod.Containers.RunAsync(new ContainerSpec { Rootfs = rootfs.Path, Args = ["/bin/busybox", "sleep", "600"] }, Ct);
            }
            File.WriteAllText(Path.Combine(ScriptDirectory, "ready"), "");
            await Task.Delay(Timeout.Infinite, Ct);
            """);
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var run = pods.Runner.RunAsync(script, [], cts.Token);
        while (!run.IsCompleted && !File.Exists(Path.Combine(pods.Work, "ready")))
        {
            await Task.Delay(50);
        }

        if (run.IsCompleted)
        {
            Assert.Fail($"the script ended early: {(await run).Error}");
        }

        // Two pods, each with a running container: two shims, four runc containers (two pauses, two sleeps).
        var (ids, shims, containers) = (pods.Leaks.Ids, pods.Leaks.LiveShims(), pods.Leaks.LiveContainers());
        Assert.True((ids.Count, shims.Count, containers.Count) == (2, 2, 4),
            $"ids [{string.Join(", ", ids)}] shims [{string.Join(" | ", shims)}] containers [{string.Join(", ", containers)}]");
        cts.Cancel();
        var result = await run;

        Assert.Equal((ScriptOutcome.Cancelled, 130), (result.Outcome, result.ExitCode));
        await pods.AssertNothingLeftAsync();
    }
}
