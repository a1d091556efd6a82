using System.Text.Json;
using Isola.Integration.Tests.Scripting;
using Isola.TestSupport;

namespace Isola.Integration.Tests.Faults;

/// <summary>Fault trials SIGKILL real processes and count what they leave machine-wide: none may run beside them.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class FaultCollection
{
    public const string Name = "faults";
}

/// <summary>What one <c>isola</c> command did.</summary>
internal sealed record CliRun(int ExitCode, string Stdout, string Stderr, int Pid)
{
    /// <summary>How a process that SIGKILLed itself ends, as .NET reports it.</summary>
    public const int Killed = 128 + 9;

    public override string ToString() => $"exit {ExitCode}\nstdout: {Stdout}\nstderr: {Stderr}";
}

/// <summary>
/// A state root driven through the real <c>isola</c> command, as a user drives it, with one crash point armed per
/// command (<c>ISOLA_CRASH_AT</c>, see Isola.Hosting.Faults.CrashPoints), plus the checks every trial ends with: what
/// <c>sandbox ls</c> prints is true, and after <c>sandbox rm</c> nothing of the sandbox is left anywhere on the machine.
/// </summary>
internal sealed class FaultWorld : IDisposable
{
    private readonly Dictionary<string, string?> _settings;

    public FaultWorld(string kind, Func<string, Dictionary<string, string?>> settings)
    {
        Work = Path.Combine(Path.GetTempPath(), $"isola-fault-{kind}-{Guid.NewGuid():N}"[..32]);
        Directory.CreateDirectory(Work);
        _settings = settings(Root);
    }

    private FaultWorld(FaultWorld other)
    {
        Work = other.Work;
        _settings = other._settings;
    }

    public string Work { get; }

    public string Root => Path.Combine(Work, "root");

    /// <summary>A busybox root filesystem for containers (made by <see cref="ForShim"/>).</summary>
    public string Rootfs => Path.Combine(Work, "rootfs");

    /// <summary>The shared shim's group id and directory when the world's pods share one shim (ShimGrouping
    /// Runtime), derived as the shim controller derives them from the state root and runtime name; else null.</summary>
    public (string Id, string Directory)? SharedShim { get; private init; }

    /// <summary>A world on the shim runtime (containerd-shim-runc-v2 + runc) with a busybox rootfs, pods under the
    /// cgroup parent /isola-faults, with a shim per pod or (<paramref name="grouping"/> "Runtime") one for all.</summary>
    public static FaultWorld ForShim(string kind, string grouping = "Pod")
    {
        var world = new FaultWorld(kind, root => new Dictionary<string, string?>
        {
            ["Isola:Runtimes:runc:Options:ShimGrouping"] = grouping,
            ["Isola:Root"] = root,
            ["Isola:PluginsDir"] = Path.Combine(AppContext.BaseDirectory, "plugins"),
            ["Isola:DefaultRuntime"] = "runc",
            ["Isola:Runtimes:runc:Controller"] = "shim",
            ["Isola:Runtimes:runc:Options:Runtime"] = "runc",
            ["Isola:Runtimes:runc:Options:CgroupParent"] = "/isola-faults",
            ["Isola:Timeouts:Stop"] = "00:00:02",
        });
        TestRootfs.Make(world.Rootfs);
        if (grouping == "Runtime")
        {
            var key = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(
                System.Text.Encoding.UTF8.GetBytes(Path.GetFullPath(world.Root) + "\0runc")))[..16];
            return new FaultWorld(world) { SharedShim = ("isola-group-" + key, $"/run/isola/shim/{key}.group") };
        }

        return world;
    }

    /// <summary>Runs <c>isola ARGS</c>; with <paramref name="crashAt"/>, the process must die there.</summary>
    public async Task<CliRun> IsolaAsync(string? crashAt, params string[] args)
    {
        var environment = new Dictionary<string, string>();
        if (crashAt is not null)
        {
            environment["ISOLA_CRASH_AT"] = crashAt;
        }

        using var process = IsolaProcess.Start(_settings, Path.Combine(Work, "cache"), environment, args);
        var code = await process.WaitAsync(TimeSpan.FromMinutes(2));
        var run = new CliRun(code, process.Stdout, process.Stderr, process.Pid);
        if (crashAt is not null)
        {
            Assert.True(code == CliRun.Killed && run.Stderr.Contains($"crash point '{crashAt.Split('#')[0]}' reached", StringComparison.Ordinal),
                $"isola {string.Join(' ', args)} was to die at '{crashAt}': {run}");
        }

        return run;
    }

    /// <summary>Runs <c>isola ARGS</c>, which must succeed.</summary>
    public async Task<CliRun> MustAsync(params string[] args)
    {
        var run = await IsolaAsync(null, args);
        Assert.True(run.ExitCode == 0, $"isola {string.Join(' ', args)}: {run}");
        return run;
    }

    /// <summary><c>sandbox ls -o json</c>, which must succeed: the listing a fresh host prints after a crash.</summary>
    public async Task<List<JsonElement>> ListAsync()
    {
        var run = await MustAsync("-o", "json", "sandbox", "ls");
        Assert.DoesNotContain("quarantined", run.Stderr, StringComparison.Ordinal);
        return [.. JsonDocument.Parse(run.Stdout).RootElement.EnumerateArray().Select(e => e.Clone())];
    }

    /// <summary>Checks that what a listing says of <paramref name="id"/> is true now: a Ready sandbox's pid runs, a
    /// stopped one's does not, a running container's pid runs, and no container is left half-made.</summary>
    public static void AssertTruthful(List<JsonElement> listing, string id)
    {
        if (listing.FirstOrDefault(s => s.GetProperty("id").GetString() == id) is not { ValueKind: JsonValueKind.Object } sandbox)
        {
            return;
        }

        var state = sandbox.GetProperty("state").GetString();
        var pid = sandbox.TryGetProperty("pid", out var p) ? p.GetUInt32() : 0;
        var error = sandbox.TryGetProperty("statusError", out var e) ? e.GetString() : null;
        Assert.True(error is null || state == "Pending", $"sandbox {id}: state {state} not confirmed: {error}");
        switch (state)
        {
            case "Ready":
                Assert.True(pid != 0 && Processes.IsRunning(pid), $"sandbox {id} is listed Ready, but its pid {pid} does not run");
                break;
            case "Pending":
                // Its controller cannot be reached, so the listing must say why, and the sandbox must still run.
                Assert.False(string.IsNullOrEmpty(error), $"sandbox {id} is listed Pending with no reason");
                Assert.True(pid != 0 && Processes.IsRunning(pid), $"sandbox {id} is listed Pending, but its pid {pid} does not run");
                break;
            case "Stopped":
                Assert.False(pid != 0 && Processes.IsRunning(pid), $"sandbox {id} is listed Stopped, but its pid {pid} still runs");
                break;
            default:
                Assert.Fail($"sandbox {id} is listed {state} after recovery: a fresh host must have finished what the crash left half-done");
                break;
        }

        foreach (var container in sandbox.GetProperty("containers").EnumerateArray())
        {
            var cid = container.GetProperty("id").GetString();
            var cstate = container.GetProperty("state").GetString();
            var cpid = container.TryGetProperty("pid", out var cp) ? cp.GetUInt32() : 0;
            Assert.NotEqual("Unknown", cstate);
            if (cstate == "Running")
            {
                Assert.True(state is "Ready" or "Pending" && cpid != 0 && Processes.IsRunning(cpid), $"container {cid} is listed Running in a {state} sandbox; pid {cpid}");
            }
            else
            {
                Assert.False(cstate == "Stopped" && cpid != 0 && Processes.IsRunning(cpid), $"container {cid} is listed {cstate} but pid {cpid} runs");
            }
        }
    }

    /// <summary>Everything of <paramref name="id"/> (a sandbox or container id: random, so unique on this machine)
    /// that is still on the machine: processes by command line or cgroup, runc state in any namespace, cgroups, mounts,
    /// named network namespaces, sockets named in <paramref name="sockets"/>, and its state directory.</summary>
    public List<string> Leftovers(string id, IEnumerable<string>? sockets = null)
    {
        var found = new List<string>();
        foreach (var proc in Directory.EnumerateDirectories("/proc").Where(d => int.TryParse(Path.GetFileName(d), out _)))
        {
            try
            {
                var cmdline = File.ReadAllText(Path.Combine(proc, "cmdline")).Replace('\0', ' ').Trim();
                var cgroup = File.ReadAllText(Path.Combine(proc, "cgroup"));
                var state = File.ReadAllText(Path.Combine(proc, "stat")).Split(") ")[1][0];
                // A shared shim names no pod: with one pod per trial, it must end with that pod.
                var sharedShim = SharedShim is { } shared && cmdline.Contains($"-id {shared.Id} ", StringComparison.Ordinal);
                if (state != 'Z' && (sharedShim || cmdline.Contains(id, StringComparison.Ordinal) || cgroup.Contains(id, StringComparison.Ordinal)))
                {
                    found.Add($"process {Path.GetFileName(proc)}: {cmdline}");
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or IndexOutOfRangeException)
            {
                // exited while we looked
            }
        }

        if (Directory.Exists("/run/containerd/runc"))
        {
            found.AddRange(Directory.EnumerateDirectories("/run/containerd/runc").Select(ns => Path.Combine(ns, id)).Where(Directory.Exists)
                .Select(d => $"runc state {d}"));
        }

        foreach (var hierarchy in Directory.EnumerateDirectories("/sys/fs/cgroup"))
        {
            found.AddRange(CgroupsNamed(hierarchy, id, depth: 3).Select(d => $"cgroup {d}"));
        }

        found.AddRange(File.ReadLines("/proc/self/mountinfo").Where(l => l.Contains(id, StringComparison.Ordinal)).Select(l => $"mount {l}"));
        if (Directory.Exists("/run/netns"))
        {
            found.AddRange(Directory.EnumerateFileSystemEntries("/run/netns").Where(n => n.Contains(id, StringComparison.Ordinal)).Select(n => $"netns {n}"));
        }

        found.AddRange((sockets ?? []).Where(File.Exists).Select(s => $"socket {s}"));
        if (SharedShim is { } group && Directory.Exists(group.Directory))
        {
            found.Add($"shared shim directory {group.Directory}: {string.Join(", ", Directory.EnumerateFileSystemEntries(group.Directory, "*", SearchOption.AllDirectories))}");
        }

        var dir = Path.Combine(Root, id);
        if (Directory.Exists(dir))
        {
            found.Add($"state directory {dir}: {string.Join(", ", Directory.EnumerateFileSystemEntries(dir).Select(Path.GetFileName))}");
        }

        return found;
    }

    /// <summary>The sockets a sandbox's record and bundle name (its shim's, its VM's), read before anything cleans
    /// them, so the leak check can look for them afterwards.</summary>
    public IReadOnlyList<string> SocketsOf(string id)
    {
        var dir = Path.Combine(Root, id);
        if (!Directory.Exists(dir))
        {
            return [];
        }

        // A shared shim's `start` writes its address into the group's directory, not the pod's bundle.
        var files = Directory.EnumerateFiles(dir, "address", SearchOption.AllDirectories).ToList();
        if (SharedShim is { } shared && File.Exists(Path.Combine(shared.Directory, "address")))
        {
            files.Add(Path.Combine(shared.Directory, "address"));
        }

        var sockets = new List<string>();
        foreach (var file in files)
        {
            var address = File.ReadAllText(file).Trim();
            if (address.IndexOf("unix://", StringComparison.Ordinal) is var i and >= 0)
            {
                sockets.Add(address[(i + 7)..]);
            }
        }

        return sockets;
    }

    /// <summary>Sockets of the events endpoint a host process bound for its shims, which must not outlive it.</summary>
    public static IEnumerable<string> EventsSocketsOf(int pid) =>
        Directory.Exists("/run/isola/shim") ? Directory.EnumerateFiles("/run/isola/shim", $"events-{pid}-*") : [];

    public void Dispose()
    {
        try
        {
            Directory.Delete(Work, recursive: true);
        }
        catch (IOException)
        {
            // a trial that failed says why; its leftovers are its evidence
        }
    }

    private static IEnumerable<string> CgroupsNamed(string dir, string id, int depth)
    {
        IEnumerable<string> children;
        try
        {
            children = Directory.EnumerateDirectories(dir).ToList();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            yield break;
        }

        foreach (var child in children)
        {
            if (Path.GetFileName(child).Contains(id, StringComparison.Ordinal))
            {
                yield return child;
            }
            else if (depth > 1)
            {
                foreach (var nested in CgroupsNamed(child, id, depth - 1))
                {
                    yield return nested;
                }
            }
        }
    }
}
