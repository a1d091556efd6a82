using System.Collections.Concurrent;

namespace Isola.Integration.Tests.Scripting;

/// <summary>
/// Records every sandbox id that appears under a state root while a workflow runs (scripts generate them, so the test
/// cannot know them in advance), then checks that nothing survived: no shim process serving one of them
/// (<c>-id ID</c> on its command line) and no runc container whose state mentions the test's directory (pause and
/// workload containers alike, since their bundles live under it).
/// </summary>
internal sealed class LeakWatch : IDisposable
{
    private readonly string _work;
    private readonly FileSystemWatcher _watcher;
    private readonly ConcurrentDictionary<string, bool> _ids = new();

    /// <param name="root">The state root: one directory per sandbox, named by its id.</param>
    /// <param name="work">The test's directory, which holds the root and so every bundle.</param>
    public LeakWatch(string root, string work)
    {
        _work = work;
        Directory.CreateDirectory(root);
        // Top level only: inotify sees direct children reliably, while nested ones can appear before their parent's
        // watch exists.
        _watcher = new FileSystemWatcher(root) { IncludeSubdirectories = false, NotifyFilter = NotifyFilters.DirectoryName };
        _watcher.Created += (_, e) => Add(e.Name);
        _watcher.Renamed += (_, e) => Add(e.Name);
        _watcher.EnableRaisingEvents = true;
    }

    /// <summary>The sandbox ids seen so far.</summary>
    public IReadOnlyCollection<string> Ids => [.. _ids.Keys];

    /// <summary>Shim processes serving the seen sandboxes.</summary>
    public List<string> LiveShims() => [.. _ids.Keys.SelectMany(id => RealPodHost.ProcessesMatching($"-id {id} "))];

    /// <summary>runc containers (any namespace) whose state refers to the test's directory.</summary>
    public List<string> LiveContainers()
    {
        var found = new List<string>();
        if (!Directory.Exists("/run/containerd/runc"))
        {
            return found;
        }

        foreach (var state in Directory.GetDirectories("/run/containerd/runc").SelectMany(Directory.GetDirectories)
                     .Select(d => Path.Combine(d, "state.json")).Where(File.Exists))
        {
            try
            {
                if (File.ReadAllText(state).Contains(_work, StringComparison.Ordinal))
                {
                    found.Add(state);
                }
            }
            catch (IOException)
            {
                // Deleted while we read it.
            }
        }

        return found;
    }

    public void AssertNothingLeft()
    {
        Assert.Empty(LiveShims());
        Assert.Empty(LiveContainers());
    }

    public void Dispose() => _watcher.Dispose();

    private void Add(string? name)
    {
        if (name is not null && IdValidator.IsValid(name) && !name.StartsWith('.') && !name.Contains(".tmp", StringComparison.Ordinal))
        {
            _ids.TryAdd(name, true);
        }
    }
}
