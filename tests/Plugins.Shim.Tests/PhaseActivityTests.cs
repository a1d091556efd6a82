using System.Collections.Concurrent;
using System.Diagnostics;
using Isola.Plugins.Shim.Tests.Infrastructure;

namespace Isola.Plugins.Shim.Tests;

/// <summary>Start and teardown report their phases as activities, which is what the benchmark's breakdown reads.</summary>
[Collection(ShimCollection.Name)]
public sealed class PhaseActivityTests : IAsyncLifetime
{
    private readonly PodHarness _pods = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _pods.DisposeAsync();

    [Fact]
    public async Task Every_phase_of_start_and_teardown_is_an_activity_tagged_with_the_sandbox()
    {
        var seen = new ConcurrentQueue<(string Name, string? Sandbox)>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == "Isola.Plugins.Shim",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllData,
            ActivityStopped = a => seen.Enqueue((a.OperationName, a.GetTagItem("sandbox.id") as string)),
        };
        ActivitySource.AddActivityListener(listener);

        var sandbox = await _pods.RunSandboxAsync();
        await _pods.TeardownAsync(sandbox);

        var mine = seen.Where(s => s.Sandbox == sandbox.Id.Value).Select(s => s.Name).ToList();
        Assert.Equal(
            ["pause bundle", "shim start", "connect", "pause create", "pause start", "shim pid + pause SIGTERM handler",
             "stop tasks", "delete tasks", "shim shutdown + exit", "socket, log, cgroup, bundles"], mine);
    }
}
