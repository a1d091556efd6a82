using System.Collections.Concurrent;
using System.Text;
using System.Text.Json.Nodes;
using Isola.Controllers;
using Isola.SandboxApi.Tasks;
using Microsoft.Extensions.Logging;

namespace Isola.Server.Tasks;

/// <summary>
/// What <c>isola serve</c> does with Update(fields=["extensions.tasks"]): like Kuasar, it keeps one bundle directory
/// per listed container under <c>&lt;root&gt;/&lt;sandbox&gt;/&lt;container&gt;</c> with the container's config.json,
/// adds bundles for new tasks and removes those no longer listed. For a process sandbox (a pause container) the spec's
/// network, ipc and uts namespaces are pointed at the sandbox process's and its cgroup is nested under the sandbox
/// process's, so the container joins the pod and goes away with it. The client
/// learns the root from Start's labels and hands <c>&lt;root&gt;/&lt;sandbox&gt;/&lt;container&gt;</c> to Task.Create.
/// </summary>
internal sealed class TaskBundleWriter(string root, ILogger logger)
{
    private const string ListFile = "tasks.json";

    // Two clients may update one sandbox at once; each Update rewrites that sandbox's whole directory.
    private readonly ConcurrentDictionary<SandboxId, object> _locks = new();

    /// <summary>The directory holding this sandbox's bundles (what Start announces).</summary>
    public string SandboxRoot(SandboxId sandboxId) => Path.Combine(root, sandboxId.Value);

    /// <summary>Makes the bundles match <paramref name="list"/>; throws InvalidArgument naming a bad task.</summary>
    public void Apply(SandboxId sandboxId, uint sandboxPid, TaskResources list)
    {
        foreach (var task in list.Tasks)
        {
            // Task ids become bundle directories: refused here, where they arrive from the engine.
            ContainerId.Parse(task.TaskId);
            if (task.Spec is null)
            {
                throw IsolaException.InvalidArgument($"sandbox '{sandboxId}': task '{task.TaskId}' has no spec");
            }

            foreach (var p in task.Processes)
            {
                ExecId.Parse(p.ExecId);
            }
        }

        lock (_locks.GetOrAdd(sandboxId, static _ => new object()))
        {
            Write(sandboxId, sandboxPid, list);
        }
    }

    private void Write(SandboxId sandboxId, uint sandboxPid, TaskResources list)
    {
        var dir = SandboxRoot(sandboxId);
        CreatePrivateDirectory(root);
        CreatePrivateDirectory(dir);
        var wanted = list.Tasks.Select(t => t.TaskId).ToHashSet(StringComparer.Ordinal);
        foreach (var existing in Directory.EnumerateDirectories(dir))
        {
            var name = Path.GetFileName(existing);
            if (!wanted.Contains(name))
            {
                Directory.Delete(existing, recursive: true);
                logger.LogDebug("sandbox {Sandbox}: removed bundle of task {Task}", sandboxId, name);
            }
        }

        foreach (var task in list.Tasks)
        {
            var bundle = Path.Combine(dir, task.TaskId);
            CreatePrivateDirectory(bundle);
            var spec = (JsonObject)task.Spec!.DeepClone();
            JoinSandboxNamespaces(spec, sandboxPid);
            NestCgroup(spec, sandboxPid, task.TaskId);
            WriteAtomically(Path.Combine(bundle, "config.json"), Encoding.UTF8.GetBytes(spec.ToJsonString()));
        }

        WriteAtomically(Path.Combine(dir, ListFile), list.ToUtf8Json());
    }

    /// <summary>Removes every bundle of the sandbox (Shutdown).</summary>
    public void Remove(SandboxId sandboxId)
    {
        lock (_locks.GetOrAdd(sandboxId, static _ => new object()))
        {
            var dir = SandboxRoot(sandboxId);
            if (Directory.Exists(dir))
            {
                Directory.Delete(dir, recursive: true);
            }
        }

        _locks.TryRemove(sandboxId, out _);
    }

    /// <summary>Points the network, IPC and UTS namespaces the spec asks for at the sandbox process's, when it runs
    /// here (a VM's process has no namespaces of the pod).</summary>
    private static void JoinSandboxNamespaces(JsonObject spec, uint pid)
    {
        if (pid != 0 && File.Exists($"/proc/{pid}/ns/net"))
        {
            OciSpecEdits.JoinPodNamespaces(spec, pid, onlyRequested: true);
        }
    }

    /// <summary>Sets linux.cgroupsPath to &lt;the sandbox process's cgroup&gt;/&lt;container&gt; unless the spec has one:
    /// the v2 path ("0::") on a pure cgroup v2 host, the pids controller's path on cgroup v1.</summary>
    private static void NestCgroup(JsonObject spec, uint pid, string containerId)
    {
        var file = $"/proc/{pid}/cgroup";
        if (pid == 0 || !File.Exists(file) || spec["linux"] is not JsonObject linux || linux["cgroupsPath"] is not null)
        {
            return; // checked before reading the file: an engine's own cgroupsPath stands
        }

        var lines = File.ReadAllLines(file).Where(l => l.Length > 0).ToArray();
        var line = lines.Length == 1 && lines[0].StartsWith("0::", StringComparison.Ordinal)
            ? lines[0]
            : Array.Find(lines, l => l.Split(':') is [_, var controllers, _] && controllers.Split(',').Contains("pids"));
        var path = line?[(line.IndexOf(':', line.IndexOf(':') + 1) + 1)..];
        if (!string.IsNullOrEmpty(path) && path != "/")
        {
            OciSpecEdits.NestCgroup(spec, path, containerId, onlyUnset: true);
        }
    }

    private static void CreatePrivateDirectory(string path)
    {
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("bundles need Linux");
        }

        Directory.CreateDirectory(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    private static void WriteAtomically(string path, byte[] content)
    {
        var temp = path + ".tmp";
        using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            stream.Write(content);
            stream.Flush(flushToDisk: true);
        }

        File.Move(temp, path, overwrite: true);
    }
}
