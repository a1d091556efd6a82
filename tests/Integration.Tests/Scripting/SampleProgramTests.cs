using System.Diagnostics;
using Isola.TestSupport;

namespace Isola.Integration.Tests.Scripting;

/// <summary>samples/Isola.Samples.Workflow (services.AddIsola + AddIsolaScripting) runs its C# workflow for real.</summary>
public sealed class SampleProgramTests : IDisposable
{
    private readonly string _work = Path.Combine(Path.GetTempPath(), "isola-smp-" + Guid.NewGuid().ToString("N")[..12]);

    public void Dispose() => Directory.Delete(_work, recursive: true);

    [Fact]
    public async Task The_embedding_sample_runs_the_hello_workflow_from_csharp_and_leaves_nothing()
    {
        var sample = new[] { "Debug", "Release" }
            .Select(c => Path.Combine(RepoPaths.Root, "samples", "Isola.Samples.Workflow", "bin", c, "net10.0", "isola-sample-workflow.dll"))
            .FirstOrDefault(File.Exists);
        Assert.True(sample is not null, "the sample is not built: dotnet build samples/Isola.Samples.Workflow (scripts/setup builds the solution)");
        using var leaks = new LeakWatch(Path.Combine(_work, "root"), _work);
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { sample, "--Isola:Root=" + Path.Combine(_work, "root"), "--Isola:PluginsDir=" + Path.Combine(AppContext.BaseDirectory, "plugins") })
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);

        Assert.True(process.ExitCode == 0, $"exit {process.ExitCode}: {await stderr}{await stdout}");
        Assert.Matches("hello from sandbox [0-9a-f]+, driven from C#", await stdout);
        Assert.Single(leaks.Ids);
        leaks.AssertNothingLeft();
        Assert.DoesNotContain(Directory.GetDirectories(Path.Combine(_work, "root")), d => !Path.GetFileName(d).StartsWith('.'));
    }
}
