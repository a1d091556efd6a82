using Isola.Hosting.Tests.Doubles;

namespace Isola.Hosting.Tests.Footprint;

/// <summary>
/// The entry point of this test assembly when it runs as a program, <c>dotnet Isola.Hosting.Tests.dll PROBE</c> (the
/// test SDK's generated empty one is turned off in the project). Some facts are only observable in a fresh process:
/// the test process itself has loaded whatever other tests needed, the compiler included.
/// </summary>
internal static class ProbeProgram
{
    /// <summary>Starts a host with the in-process fake plugin, runs a pod and a container through it, tears both
    /// down, then prints the simple name of every assembly loaded in the process, one a line.</summary>
    public const string LoadedAssembliesAfterAPod = "loaded-assemblies-after-a-pod";

    public static async Task<int> Main(string[] args)
    {
        if (args is not [LoadedAssembliesAfterAPod])
        {
            await Console.Error.WriteLineAsync($"usage: Isola.Hosting.Tests {LoadedAssembliesAfterAPod}");
            return 2;
        }

        using var root = new TestRoot();
        await using (var host = await root.StartAsync())
        {
            var sandbox = await host.Sandboxes.RunAsync(new SandboxSpec { Name = "probe" });
            var container = await sandbox.Containers.RunAsync(new ContainerSpec { Id = "c1", Rootfs = root.Root, Args = ["true"] });
            await container.StopAsync(TimeSpan.FromSeconds(5));
            await container.DeleteAsync();
            await sandbox.RemoveAsync();
        }

        foreach (var assembly in AppDomain.CurrentDomain.GetAssemblies())
        {
            Console.WriteLine(assembly.GetName().Name);
        }

        return 0;
    }
}
