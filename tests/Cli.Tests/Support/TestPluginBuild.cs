using System.Diagnostics;
using Isola.TestSupport;

namespace Isola.Cli.Tests.Support;

/// <summary>
/// Builds tests/TestPlugin (which nothing references) with <c>dotnet build</c> into a temp plugins folder, once per
/// test run, exactly as a third party would ship a plugin folder.
/// </summary>
public sealed class TestPluginBuild : IDisposable
{
    public TestPluginBuild()
    {
        RepoRoot = RepoPaths.Root;
        PluginsDir = Path.Combine(Path.GetTempPath(), "isola-cli-plugins-" + Guid.NewGuid().ToString("N"));
        var output = Path.Combine(PluginsDir, "Isola.TestPlugin");
        var project = Path.Combine(RepoRoot, "tests", "TestPlugin", "Isola.TestPlugin.csproj");
        string log = "";
        for (var attempt = 0; attempt < 2; attempt++)
        {
            // --no-dependencies: Isola.Abstractions is already built (this test project depends on it); rebuilding
            // it here would race other builds on a shared machine.
            var (code, text) = Run("dotnet", ["build", project, "--no-dependencies", "--nologo", "-v", "quiet", "-c", Configuration, "-o", output]);
            log = text;
            if (code == 0 && File.Exists(Path.Combine(output, "Isola.TestPlugin.dll")))
            {
                return;
            }
        }

        throw new InvalidOperationException($"building {project} failed (is the .NET 10 SDK on PATH?):\n{log}");
    }

    public string RepoRoot { get; }

    /// <summary>The configuration this test assembly was built in (its referenced projects' outputs are there).</summary>
    private static string Configuration =>
        AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ? "Release" : "Debug";

    /// <summary>A plugins directory holding only the test plugin's folder.</summary>
    public string PluginsDir { get; }

    public void Dispose()
    {
        if (Directory.Exists(PluginsDir))
        {
            Directory.Delete(PluginsDir, recursive: true);
        }
    }

    internal static (int Code, string Output) Run(string file, IEnumerable<string> args, IDictionary<string, string>? env = null, TimeSpan? timeout = null)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        foreach (var (key, value) in env ?? new Dictionary<string, string>())
        {
            info.Environment[key] = value;
        }

        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout ?? TimeSpan.FromMinutes(3)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', info.ArgumentList)} did not finish");
        }

        return (process.ExitCode, stdout.Result + stderr.Result);
    }
}

[CollectionDefinition(Name)]
public sealed class TestPluginCollection : ICollectionFixture<TestPluginBuild>
{
    public const string Name = "test plugin";
}
