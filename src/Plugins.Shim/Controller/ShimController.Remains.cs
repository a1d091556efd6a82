using System.Globalization;
using System.Text.Json.Nodes;
using Isola.Controllers;
using Isola.Plugins.Shim.Launcher;
using Microsoft.Extensions.Logging;
using Keys = Isola.Plugins.Shim.Controller.ControllerDataKeys;

namespace Isola.Plugins.Shim.Controller;

/// <summary>
/// What a pod left on the machine, found from whatever subset of the controller data was persisted and, for the rest,
/// from the pod's files: a host killed inside Start persisted its record before the shim's address was known, but the
/// shim wrote it into the bundle, and the bundle's config.json names the cgroup. Teardown works from these.
/// </summary>
internal sealed partial class ShimController
{
    // The runc shim runs its OCI runtime with --root RuncRoot/NAMESPACE (we never set the options' Root).
    private const string RuncRoot = "/run/containerd/runc";

    /// <summary>The shim settings the sandbox was started with: recorded values win over this host's configuration, so
    /// a sandbox recorded by an earlier host (another default namespace, say) is still found and cleaned.</summary>
    private ShimSettings SettingsOf(SandboxContext sandbox) => _settings with
    {
        Namespace = Get(sandbox.ControllerData, Keys.Namespace, _settings.Namespace),
        ContainerdAddress = Get(sandbox.ControllerData, Keys.ContainerdAddress, _settings.ContainerdAddress),
        ShimBinary = Get(sandbox.ControllerData, Keys.ShimBinary, _settings.ShimBinary),
    };

    /// <summary>The shim's Task API address and version: recorded at Start, else the bundle's `address` file (written by
    /// `shim start`), else null (no shim was ever started for this bundle).</summary>
    private (string Address, uint Version)? ShimAddressOf(SandboxContext sandbox)
    {
        var data = sandbox.ControllerData;
        if (data.TryGetValue(Keys.Address, out var recorded))
        {
            return (recorded, uint.TryParse(Get(data, Keys.Version), CultureInfo.InvariantCulture, out var v) ? v : 2);
        }

        // A shared shim's `start` writes it into the group's directory.
        var startedIn = GroupOf(sandbox) is null ? BundleOf(sandbox) : GroupDirectoryOf(sandbox);
        if (ShimLauncher.ReadBundleFile(startedIn, ShimLauncher.AddressFile) is not { Length: > 0 } written)
        {
            return null;
        }

        try
        {
            var parsed = ShimStartResult.Parse(written, SettingsOf(sandbox).ShimBinary);
            return (parsed.TaskAddress, parsed.Version);
        }
        catch (IsolaException e)
        {
            _logger.LogWarning("sandbox {Id}: ignoring the bundle's address file: {Error}", sandbox.Id.Value, e.Message);
            return null;
        }
    }

    /// <summary>The pod's cgroup: recorded at Create, else linux.cgroupsPath of the pause bundle's config.json; null when
    /// neither exists (no bundle was ever written, so runc never made a cgroup).</summary>
    private string? CgroupsPathOf(SandboxContext sandbox)
    {
        if (sandbox.ControllerData.TryGetValue(Keys.CgroupsPath, out var recorded))
        {
            return recorded;
        }

        if (ShimLauncher.ReadBundleFile(BundleOf(sandbox), "config.json") is not { } config)
        {
            return null;
        }

        try
        {
            return JsonNode.Parse(config)?["linux"]?["cgroupsPath"]?.GetValue<string>();
        }
        catch (Exception e) when (e is System.Text.Json.JsonException or InvalidOperationException or FormatException)
        {
            _logger.LogWarning("sandbox {Id}: the pause bundle's config.json is unreadable: {Error}", sandbox.Id.Value, e.Message);
            return null;
        }
    }

    /// <summary>
    /// True when <paramref name="cgroupsPath"/> is safe to empty by force for <paramref name="sandboxId"/>: a plain path
    /// at least two levels deep whose leaf is this sandbox's (ID, or TAG-ID as Create names it). Everything in it gets
    /// SIGKILL, so a path read from a damaged record or bundle must never reach a parent or another pod's cgroup.
    /// </summary>
    internal static bool IsPodCgroup(string cgroupsPath, string sandboxId)
    {
        if (!ShimControllerOptions.IsCgroupPath(cgroupsPath))
        {
            return false;
        }

        var segments = cgroupsPath.Trim('/').Split('/');
        var leaf = segments[^1];
        return segments.Length >= 2 && (leaf == sandboxId || leaf.EndsWith("-" + sandboxId, StringComparison.Ordinal));
    }

    /// <summary>The runc state directory of task <paramref name="id"/> of this sandbox.</summary>
    private string RuncStateOf(SandboxContext sandbox, string id) => Path.Combine(RuncRoot, SettingsOf(sandbox).Namespace, id);

    /// <summary>`shim delete` (runc delete --force, rootfs unmount) for each task whose runc state exists and whose
    /// bundle is still there; a task without runc state has nothing for the runtime to delete.</summary>
    private async Task ForceDeleteAllAsync(SandboxContext sandbox, CancellationToken cancellationToken)
    {
        var settings = SettingsOf(sandbox);
        foreach (var (id, bundle) in Tasks(sandbox))
        {
            if (Directory.Exists(RuncStateOf(sandbox, id)))
            {
                await _launcher.DeleteAsync(id, bundle, settings, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// The last resort, once the shim and the runtime had their chance: kill what still runs in the pod's cgroup, then
    /// the shim, then drop runc state whose processes are all gone (a `runc create` killed half-way leaves a directory
    /// `runc delete` refuses to read). Costs nothing after a clean teardown: runc removed the cgroups and its state.
    /// </summary>
    private async Task ReclaimAsync(SandboxContext sandbox, string? shimAddress, string? cgroupsPath, CancellationToken cancellationToken)
    {
        var podEmpty = false;
        if (cgroupsPath is not null && IsPodCgroup(cgroupsPath, sandbox.Id.Value))
        {
            var killed = await CgroupCleaner.KillAllAsync(cgroupsPath, cancellationToken).ConfigureAwait(false);
            if (killed.Count > 0)
            {
                _logger.LogWarning("sandbox {Id}: killed pids {Pids} left in cgroup {Cgroup}", sandbox.Id.Value, string.Join(", ", killed), cgroupsPath);
            }

            podEmpty = !CgroupCleaner.HasMembers(cgroupsPath);
        }

        // A shared shim serves other pods: only its last pod's LeaveGroupAsync may end it.
        if (GroupOf(sandbox) is null && FindShim(sandbox, shimAddress) is { } shimPid)
        {
            _logger.LogInformation("sandbox {Id}: shim pid {Pid} still runs after teardown; killing it", sandbox.Id.Value, shimPid);
            await ShimProcesses.KillAsync(shimPid).ConfigureAwait(false);
        }

        var leftover = Tasks(sandbox).Where(t => Directory.Exists(RuncStateOf(sandbox, t.Id))).ToList();
        if (leftover.Count > 0)
        {
            await ForceDeleteAllAsync(sandbox, cancellationToken).ConfigureAwait(false);
            foreach (var (id, _) in leftover.Where(t => Directory.Exists(RuncStateOf(sandbox, t.Id))))
            {
                if (!podEmpty)
                {
                    _logger.LogWarning("sandbox {Id}: runc state {State} left (its processes may still run: the pod's cgroup is unknown or not empty)", sandbox.Id.Value, RuncStateOf(sandbox, id));
                    continue;
                }

                _logger.LogWarning("sandbox {Id}: removing runc state {State} that runc could not delete", sandbox.Id.Value, RuncStateOf(sandbox, id));
                TryDelete(RuncStateOf(sandbox, id));
            }
        }
    }

    /// <summary>
    /// Removes runc's directory of this sandbox's namespace once it is empty, when that namespace is the default of this
    /// state root (one per state root would otherwise pile up; a configured namespace may be shared with other users of
    /// runc), or with <paramref name="sandbox"/> null the empty directory of every state root's default namespace.
    /// A Start holds <see cref="StartsLock"/> shared from `shim start` to the pause's Create (where runc makes the
    /// directory), so under the exclusive lock no runc started by Isola is about to use it.
    /// </summary>
    private async Task RemoveEmptyNamespacesAsync(SandboxContext? sandbox, TimeSpan patience)
    {
        var dirs = sandbox is null
            ? (Directory.Exists(RuncRoot) ? Directory.EnumerateDirectories(RuncRoot).Where(d => ShimControllerFactory.IsDefaultNamespace(Path.GetFileName(d))).ToList() : [])
            : SettingsOf(sandbox).Namespace is var ns && ns == ShimControllerFactory.DefaultNamespace(_settings.StateRootTag) ? [Path.Combine(RuncRoot, ns)] : [];
        if (!dirs.Any(d => Directory.Exists(d) && !Directory.EnumerateFileSystemEntries(d).Any()))
        {
            return;
        }

        using var held = await StartsLock.TryExclusiveAsync(patience).ConfigureAwait(false);
        foreach (var dir in held is null ? [] : dirs.Where(d => Directory.Exists(d) && !Directory.EnumerateFileSystemEntries(d).Any()))
        {
            try
            {
                Directory.Delete(dir);
            }
            catch (IOException)
            {
                // filled meanwhile
            }
        }
    }

    private static void RemoveShimSocket(string? shimAddress)
    {
        // Only a socket the runc shim made under containerd's socket directory, left behind by a killed shim.
        if (ShimSocketOf(shimAddress) is { } socket && socket.StartsWith("/run/containerd/s/", StringComparison.Ordinal) && File.Exists(socket))
        {
            File.Delete(socket);
        }
    }

    /// <summary>The lock pod starts hold shared (see <see cref="RemoveEmptyNamespacesAsync"/>): on the shim directory, which the
    /// events endpoint locks the same way.</summary>
    private static class StartsLock
    {
        public static Shim.Events.DirectoryLock Shared()
        {
            Directory.CreateDirectory(ShimControllerFactory.EventsDirectory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            return Shim.Events.DirectoryLock.Shared(ShimControllerFactory.EventsDirectory);
        }

        public static Task<Shim.Events.DirectoryLock?> TryExclusiveAsync(TimeSpan patience) =>
            Directory.Exists(ShimControllerFactory.EventsDirectory)
                ? Shim.Events.DirectoryLock.TryExclusiveAsync(ShimControllerFactory.EventsDirectory, patience)
                : Task.FromResult<Shim.Events.DirectoryLock?>(null);
    }

    // The containers first (they live in the pod's namespaces), then the pause.
    private IEnumerable<(string Id, string Bundle)> Tasks(SandboxContext sandbox) =>
        ContainerIds(sandbox).Select(id => (id, ContainerBundleOf(sandbox, id))).Append((sandbox.Id.Value, BundleOf(sandbox)));

    private static string? ShimSocketOf(string? address) =>
        address is not null && address.IndexOf("unix://", StringComparison.Ordinal) is var i and >= 0 ? address[(i + 7)..] : null;
}
