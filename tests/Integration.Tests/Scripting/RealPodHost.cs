using Isola.Hosting;
using Isola.Scripting;
using Isola.TestSupport;
using Microsoft.Extensions.Configuration;

namespace Isola.Integration.Tests.Scripting;

/// <summary>
/// A real host for workflow scripts: the default plugins, runtime "runc" on the shim controller
/// (containerd-shim-runc-v2 + runc, pause sandbox), a unique state root and script cache. Dispose checks nothing was
/// left behind is the tests' job (<see cref="AssertNothingLeftAsync"/>); it then deletes the directories.
/// </summary>
internal sealed class RealPodHost : IAsyncDisposable
{
    private readonly LeakWatch _leaks;

    private RealPodHost(string work, IsolaHost host, LeakWatch leaks)
    {
        Work = work;
        Host = host;
        _leaks = leaks;
    }

    public string Work { get; }

    public string Root => Path.Combine(Work, "root");

    public string CacheDir => Path.Combine(Work, "cache");

    public IsolaHost Host { get; }

    public IScriptRunner Runner => IsolaScripting.CreateRunner(Host, new ScriptingOptions { CacheDir = CacheDir }, Host.LoggerFactory);

    /// <summary>Settings shared with <c>isola</c> child processes (as ISOLA__ variables).</summary>
    public static Dictionary<string, string?> Settings(string work) => new()
    {
        ["Isola:Root"] = Path.Combine(work, "root"),
        ["Isola:PluginsDir"] = Path.Combine(AppContext.BaseDirectory, "plugins"),
        ["Isola:DefaultRuntime"] = "runc",
        ["Isola:Runtimes:runc:Controller"] = "shim",
        ["Isola:Runtimes:runc:Options:Runtime"] = "runc",
    };

    public static async Task<RealPodHost> StartAsync()
    {
        Peers.RequireShimAndBusybox();
        var work = Path.Combine(Path.GetTempPath(), "isola-scr-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(work);
        var leaks = new LeakWatch(Path.Combine(work, "root"), work);
        var builder = IsolaHost.CreateBuilder();
        builder.Configuration.AddInMemoryCollection(Settings(work));
        try
        {
            return new RealPodHost(work, await builder.StartAsync(), leaks);
        }
        catch
        {
            leaks.Dispose();
            Directory.Delete(work, recursive: true);
            throw;
        }
    }

    /// <summary>The example scripts shipped in scripts/examples.</summary>
    public static string Example(string name) => Path.Combine(RepoPaths.Examples, name);

    /// <summary>No sandbox in the host, no sandbox directory under the root, no process working in or naming it.</summary>
    public async Task AssertNothingLeftAsync()
    {
        Assert.Empty(await Host.Sandboxes.ListAsync());
        if (Directory.Exists(Root))
        {
            Assert.DoesNotContain(Directory.GetDirectories(Root), d => !Path.GetFileName(d).StartsWith('.'));
        }

        Assert.Empty(ProcessesUnder(Work));
        _leaks.AssertNothingLeft();
    }

    /// <summary>What the workflow created under the state root so far.</summary>
    public LeakWatch Leaks => _leaks;

    public async ValueTask DisposeAsync()
    {
        _leaks.Dispose();
        await Host.DisposeAsync();
        if (Directory.Exists(Work))
        {
            Directory.Delete(Work, recursive: true);
        }
    }

    /// <summary>Processes whose command line or working directory lies under <paramref name="dir"/>.</summary>
    public static List<string> ProcessesUnder(string dir) => Processes((cmdline, cwd) =>
        cmdline.Contains(dir, StringComparison.Ordinal) || cwd.StartsWith(dir, StringComparison.Ordinal));

    /// <summary>Processes whose command line contains <paramref name="text"/>.</summary>
    public static List<string> ProcessesMatching(string text) => Processes((cmdline, _) => cmdline.Contains(text, StringComparison.Ordinal));

    private static List<string> Processes(Func<string, string, bool> match)
    {
        var found = new List<string>();
        foreach (var proc in Directory.GetDirectories("/proc").Where(p => int.TryParse(Path.GetFileName(p), out _)))
        {
            try
            {
                var cmdline = File.ReadAllText(Path.Combine(proc, "cmdline")).Replace('\0', ' ');
                var cwd = new DirectoryInfo(Path.Combine(proc, "cwd")).ResolveLinkTarget(false)?.FullName ?? "";
                if (match(cmdline, cwd))
                {
                    found.Add($"{Path.GetFileName(proc)}: {cmdline.Trim()}");
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // The process exited while we looked.
            }
        }

        return found;
    }
}
