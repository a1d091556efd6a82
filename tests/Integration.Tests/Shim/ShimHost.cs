using Isola.Hosting;
using Isola.TestSupport;
using Microsoft.Extensions.Configuration;

namespace Isola.Integration.Tests.Shim;

/// <summary>
/// A real host whose runtime "runc" is the shim controller (containerd-shim-runc-v2 + runc, pause sandbox), with its own
/// state root, containerd namespace and cgroup parent, and a busybox rootfs from scripts/make-rootfs.
/// </summary>
internal sealed class ShimHost : IAsyncDisposable
{
    public const string Namespace = "isola-it";
    public const string CgroupParent = "/isola-it";

    private readonly string _grouping;

    private ShimHost(string work, IsolaHost host, string grouping)
    {
        Work = work;
        Host = host;
        _grouping = grouping;
        if (grouping == "Runtime")
        {
            // As the shim controller derives them from the state root and runtime name.
            var key = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(
                System.Text.Encoding.UTF8.GetBytes(Path.GetFullPath(Root) + "\0runc")))[..16];
            SharedShim = ("isola-group-" + key, $"/run/isola/shim/{key}.group");
        }
    }

    /// <summary>The shared shim's id and group directory with ShimGrouping Runtime; null with a shim per pod.</summary>
    public (string Id, string Directory)? SharedShim { get; }

    /// <summary>The -id of the shim serving <paramref name="sandboxId"/>: the pod's own, or the shared shim's group id.</summary>
    public string ShimIdOf(string sandboxId) => SharedShim?.Id ?? sandboxId;

    public string Work { get; }

    public string Root => Path.Combine(Work, "root");

    public string Rootfs => Path.Combine(Work, "rootfs");

    public IsolaHost Host { get; private set; }

    public static async Task<ShimHost> StartAsync(string? work = null, string grouping = "Pod")
    {
        Peers.RequireShimAndBusybox();
        var fresh = work is null;
        work ??= Path.Combine(Path.GetTempPath(), "isola-itshim-" + Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(work);
        if (fresh)
        {
            TestRootfs.Make(Path.Combine(work, "rootfs"));
        }

        return new ShimHost(work, await BuildAsync(work, grouping), grouping);
    }

    /// <summary>Disposes this host and starts a new one on the same state root, as a restarted process would;
    /// <paramref name="whileDown"/> runs in between, while no host runs.</summary>
    public async Task RestartAsync(Action? whileDown = null)
    {
        await Host.DisposeAsync();
        whileDown?.Invoke();
        Host = await BuildAsync(Work, _grouping);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var sandbox in await Host.Sandboxes.ListAsync())
        {
            try
            {
                await (await Host.Sandboxes.GetAsync(sandbox.Id.Value)).RemoveAsync();
            }
            catch (IsolaException)
            {
                // the test reports its own failure
            }
        }

        await Host.DisposeAsync();
        Directory.Delete(Work, recursive: true);
    }

    /// <summary>The pid of the first process whose command line (arguments joined by spaces, with a trailing space)
    /// satisfies <paramref name="match"/>; throws naming <paramref name="what"/> when there is none.</summary>
    public static int ProcessWhere(Func<string, bool> match, string what)
    {
        foreach (var proc in Directory.EnumerateDirectories("/proc").Where(p => int.TryParse(Path.GetFileName(p), out _)))
        {
            try
            {
                if (match(File.ReadAllText(Path.Combine(proc, "cmdline")).Replace('\0', ' ')))
                {
                    return int.Parse(Path.GetFileName(proc));
                }
            }
            catch (IOException)
            {
                // exited while we looked
            }
        }

        throw new InvalidOperationException($"no process for {what}");
    }

    /// <summary>kill(2).</summary>
    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    public static extern int Kill(int pid, int signal);

    /// <summary>What is left of a sandbox: processes (its shim by command line, pause and containers by cgroup), runc
    /// state, mounts, cgroups, its state directory and the shim socket.</summary>
    public List<string> Leftovers(string sandboxId, IEnumerable<string> containerIds, string taskAddress)
    {
        var found = new List<string>();
        var ids = containerIds.Append(sandboxId).ToList();
        foreach (var proc in Directory.EnumerateDirectories("/proc").Where(p => int.TryParse(Path.GetFileName(p), out _)))
        {
            try
            {
                var cmdline = File.ReadAllText(Path.Combine(proc, "cmdline")).Replace('\0', ' ').Trim();
                var inPod = File.ReadAllLines(Path.Combine(proc, "cgroup")).Select(l => l[(l.LastIndexOf(':') + 1)..])
                    .Any(path => path.StartsWith(CgroupParent + "/", StringComparison.Ordinal) &&
                                 IsPodLeaf(path[(CgroupParent.Length + 1)..].Split('/')[0], sandboxId));
                // A shared shim names no pod; the tests remove all their pods before they look, so it must be gone too.
                if (cmdline.Length > 0 && (cmdline.Contains($"-id {ShimIdOf(sandboxId)} ", StringComparison.Ordinal) || inPod))
                {
                    found.Add($"process {Path.GetFileName(proc)}: {cmdline}");
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // exited while we looked
            }
        }

        found.AddRange(ids.Select(id => Path.Combine("/run/containerd/runc", Namespace, id)).Where(Directory.Exists).Select(d => $"runc state {d}"));
        found.AddRange(File.ReadLines("/proc/self/mountinfo").Where(l => l.Contains(Work, StringComparison.Ordinal))
            .Select(l => $"mount {l}"));
        foreach (var parent in Directory.EnumerateDirectories("/sys/fs/cgroup").Select(h => Path.Combine(h, CgroupParent.TrimStart('/'))).Where(Directory.Exists))
        {
            found.AddRange(Directory.EnumerateDirectories(parent).Where(d => IsPodLeaf(Path.GetFileName(d), sandboxId)).Select(d => $"cgroup {d}"));
        }

        if (Directory.Exists(Path.Combine(Root, sandboxId)))
        {
            found.Add($"state directory {Path.Combine(Root, sandboxId)}");
        }

        if (SharedShim is { } shared && Directory.Exists(shared.Directory))
        {
            found.Add($"shared shim directory {shared.Directory}");
        }

        var socket = taskAddress[(taskAddress.IndexOf("unix://", StringComparison.Ordinal) + 7)..];
        if (File.Exists(socket))
        {
            found.Add($"shim socket {socket}");
        }

        return found;
    }

    // The shim controller names a pod's cgroup ROOTTAG-ID under the parent (plain ID for sandboxes recorded before).
    private static bool IsPodLeaf(string leaf, string sandboxId) => leaf == sandboxId || leaf.EndsWith("-" + sandboxId, StringComparison.Ordinal);

    private static async Task<IsolaHost> BuildAsync(string work, string grouping)
    {
        var builder = IsolaHost.CreateBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Isola:Root"] = Path.Combine(work, "root"),
            ["Isola:PluginsDir"] = Path.Combine(AppContext.BaseDirectory, "plugins"),
            ["Isola:DefaultRuntime"] = "runc",
            ["Isola:Runtimes:runc:Controller"] = "shim",
            ["Isola:Runtimes:runc:Options:Runtime"] = "runc",
            ["Isola:Runtimes:runc:Options:Namespace"] = Namespace,
            ["Isola:Runtimes:runc:Options:CgroupParent"] = CgroupParent,
            ["Isola:Runtimes:runc:Options:ShimGrouping"] = grouping,
            ["Isola:Timeouts:Stop"] = "00:00:03",
        });
        return await builder.StartAsync();
    }
}
