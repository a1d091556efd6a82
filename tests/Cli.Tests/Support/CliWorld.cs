using System.Diagnostics;
using System.Text.Json;

namespace Isola.Cli.Tests.Support;

/// <summary>One test's state root, configuration file (runtime "test" on the drop-in test plugin) and call log, and
/// helpers to run the isola command in-process or as a real `dotnet isola.dll` process.</summary>
public sealed class CliWorld : IDisposable
{
    public CliWorld(TestPluginBuild plugin)
    {
        Plugin = plugin;
        Base = Path.Combine(Path.GetTempPath(), "isola-cli-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(Base);
        Root = Path.Combine(Base, "root");
        CallLog = Path.Combine(Base, "calls.log");
        ResourceDir = Path.Combine(Base, "resources");
        ConfigFile = Path.Combine(Base, "isola.json");
        WriteConfig();
        Suffix = Guid.NewGuid().ToString("N")[..8];
    }

    public TestPluginBuild Plugin { get; }

    public string Base { get; }

    public string Root { get; }

    public string CallLog { get; }

    public string ResourceDir { get; }

    public string ConfigFile { get; }

    /// <summary>Appended to sandbox ids, so the test plugin's task files (keyed by sandbox id) never collide.</summary>
    public string Suffix { get; }

    public string Id(string name) => $"{name}-{Suffix}";

    public void WriteConfig(int slowMs = 0)
    {
        var config = new
        {
            Isola = new
            {
                PluginsDir = Plugin.PluginsDir,
                DefaultRuntime = "test",
                Runtimes = new { test = new { Controller = "filetest", Options = new { CallLog, ResourceDir, SlowMs = slowMs.ToString() } } },
            },
        };
        File.WriteAllText(ConfigFile, JsonSerializer.Serialize(config));
    }

    /// <summary>Runs isola in this process through its entry method.</summary>
    public async Task<(int Code, string Out, string Err)> RunAsync(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var code = await IsolaCli.RunAsync(["--config", ConfigFile, "--root", Root, .. args], stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    /// <summary>Starts `dotnet isola.dll` as a real process.</summary>
    public Process Start(IDictionary<string, string>? env, params string[] args)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in (string[])[Path.Combine(AppContext.BaseDirectory, "isola.dll"), "--config", ConfigFile, "--root", Root, .. args])
        {
            info.ArgumentList.Add(arg);
        }

        foreach (var (key, value) in env ?? new Dictionary<string, string>())
        {
            info.Environment[key] = value;
        }

        return Process.Start(info)!;
    }

    public async Task<(int Code, string Out, string Err)> ProcessAsync(IDictionary<string, string>? env, params string[] args)
    {
        using var process = Start(env, args);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout, await stderr);
    }

    /// <summary>Lines of the test plugin's call log with the given operation.</summary>
    public IReadOnlyList<string> Calls(string operation) =>
        File.Exists(CallLog) ? [.. File.ReadAllLines(CallLog).Where(l => l.StartsWith(operation + " ", StringComparison.Ordinal))] : [];

    public IReadOnlyList<string> LiveResources() =>
        Directory.Exists(ResourceDir) ? [.. Directory.GetFiles(ResourceDir).Select(Path.GetFileName).OfType<string>()] : [];

    public void Dispose()
    {
        if (Directory.Exists(Base))
        {
            Directory.Delete(Base, recursive: true);
        }

        var tasks = Path.Combine(Path.GetTempPath(), "isola-testplugin-tasks");
        if (Directory.Exists(tasks))
        {
            foreach (var dir in Directory.GetDirectories(tasks, "*-" + Suffix))
            {
                Directory.Delete(dir, recursive: true);
            }
        }
    }
}
