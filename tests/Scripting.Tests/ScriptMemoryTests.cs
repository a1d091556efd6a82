using System.Runtime.CompilerServices;
using System.Runtime.Loader;

namespace Isola.Scripting.Tests;

[CollectionDefinition(nameof(ScriptMemoryTests), DisableParallelization = true)]
public sealed class ScriptMemoryCollection;

/// <summary>
/// A long-lived host running many scripts keeps memory bounded: every run's collectible context is collected,
/// no script assembly stays loaded, and the managed heap does not grow with the number of runs.
/// Bound asserted: after 500 runs, 0 of our script contexts alive, loaded assemblies within 3 of the baseline,
/// managed heap within 16 MiB of the baseline (500 leaked contexts would keep 500 assemblies loaded).
/// </summary>
[Collection(nameof(ScriptMemoryTests))]
public sealed class ScriptMemoryTests : IDisposable
{
    private const long HeapBound = 16L << 20;
    private readonly ScriptWorkspace _ws = new();

    public void Dispose() => _ws.Dispose();

    [Fact]
    public async Task Five_hundred_cached_runs_unload_every_script_context()
    {
        var name = "mem-" + Guid.NewGuid().ToString("N") + ".csx";
        var script = _ws.Write(name, """
            record Pod(string Id, int Index);
            var pods = Enumerable.Range(0, 50).Select(i => new Pod($"pod-{i}", i)).ToList();
            Func<Pod, bool> even = p => p.Index % 2 == 0;
            await Task.Yield();
            return pods.Count(even) + Args.Length;
            """);
        var runner = IsolaScripting.CreateRunner(new RecordingIsola(), _ws.Options);
        for (var i = 0; i < 20; i++)
        {
            Assert.Equal(25, (await runner.RunAsync(script, [])).ExitCode);
        }

        Collect(name);
        var baselineHeap = GC.GetTotalMemory(forceFullCollection: true);
        var baselineAssemblies = AppDomain.CurrentDomain.GetAssemblies().Length;

        for (var i = 0; i < 500; i++)
        {
            var result = await runner.RunAsync(script, ["x"]);
            Assert.Equal((ScriptCacheStatus.Hit, 26), (result.Cache, result.ExitCode));
        }

        var alive = Collect(name);
        var heapGrowth = GC.GetTotalMemory(forceFullCollection: true) - baselineHeap;
        var assemblyGrowth = AppDomain.CurrentDomain.GetAssemblies().Length - baselineAssemblies;

        Assert.Equal(0, alive);
        Assert.InRange(assemblyGrowth, -3, 3);
        Assert.True(heapGrowth < HeapBound, $"managed heap grew by {heapGrowth >> 10} KiB over 500 runs (bound {HeapBound >> 20} MiB)");
    }

    [Fact]
    public async Task Compiling_never_loads_a_script_into_a_non_collectible_context()
    {
        var runner = IsolaScripting.CreateRunner(new RecordingIsola(), _ws.Options);
        var tag = Guid.NewGuid().ToString("N");
        for (var i = 0; i < 10; i++)
        {
            var script = _ws.Write($"c{i}-{tag}.csx", $"return {i};\n");
            Assert.Equal(i, (await runner.RunAsync(script, [])).ExitCode);
        }

        Assert.Equal(0, Collect(tag));
        Assert.DoesNotContain(AppDomain.CurrentDomain.GetAssemblies(),
            a => !a.IsCollectible && (a.GetName().Name ?? "").StartsWith("isola-script-", StringComparison.Ordinal));
    }

    /// <summary>Collects until no script context whose name contains <paramref name="tag"/> is alive; returns how many are.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int Collect(string tag)
    {
        for (var i = 0; i < 20; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            if (LiveContexts(tag) == 0)
            {
                return 0;
            }
        }

        return LiveContexts(tag);
    }

    private static int LiveContexts(string tag) =>
        AssemblyLoadContext.All.Count(c => c.Name is { } n && n.StartsWith("isola-script:", StringComparison.Ordinal) && n.Contains(tag, StringComparison.Ordinal));
}
