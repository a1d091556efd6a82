using System.Diagnostics;
using System.Reflection;
using Isola.Hosting;

namespace Isola.Hosting.Tests.Footprint;

/// <summary>
/// The engine neither references nor loads the C# compiler: scripting lives in Isola.Scripting, so an embedding
/// application that runs no .csx does not pay for Roslyn (about 10 MB on disk, and its load time).
/// </summary>
public sealed class HostWithoutCompilerTests
{
    private const string Compiler = "Microsoft.CodeAnalysis";

    [Fact]
    public void Nothing_the_host_references_is_the_compiler()
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var pending = new Queue<Assembly>([typeof(IsolaHost).Assembly]);
        while (pending.TryDequeue(out var assembly))
        {
            foreach (var reference in assembly.GetReferencedAssemblies())
            {
                var name = reference.Name ?? "";
                Assert.False(name.StartsWith(Compiler, StringComparison.Ordinal), $"{assembly.GetName().Name} references {name}");
                if (seen.Add(name) && !IsFramework(name))
                {
                    pending.Enqueue(Assembly.Load(reference));
                }
            }
        }

        Assert.Contains("McMaster.NETCore.Plugins", seen); // the walk reached the host's package dependencies
    }

    [Fact]
    public async Task Running_a_pod_through_a_host_loads_no_compiler_assembly()
    {
        // A fresh process: this one has loaded Roslyn for the plugin-loader tests' on-the-fly plugins.
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(typeof(HostWithoutCompilerTests).Assembly.Location);
        start.ArgumentList.Add(ProbeProgram.LoadedAssembliesAfterAPod);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);

        Assert.True(process.ExitCode == 0, $"the probe exited {process.ExitCode}: {await stderr}");
        var loaded = (await stdout).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Contains("Isola.Hosting", loaded); // the probe did start a host
        Assert.DoesNotContain(loaded, name => name.StartsWith(Compiler, StringComparison.Ordinal));
    }

    /// <summary>The shared framework's own assemblies: they cannot reference a NuGet package, and walking them all
    /// would only slow the test.</summary>
    private static bool IsFramework(string name) =>
        name is "netstandard" or "mscorlib" || name.StartsWith("System", StringComparison.Ordinal) || name.StartsWith("Microsoft.Win32", StringComparison.Ordinal);
}
