using System.Text.Json.Nodes;
using Isola.Controllers;
using Isola.Executors;
using Microsoft.Extensions.Logging;
using Keys = Isola.Plugins.Shim.Controller.ControllerDataKeys;

namespace Isola.Plugins.Shim.Controller;

/// <summary>
/// Shared-shim pods (<see cref="ShimGrouping.Runtime"/>). containerd-shim-runc-v2's <c>start</c> hashes the
/// io.containerd.runc.v2.group annotation of the config.json in its working directory into its socket address, and
/// when a live shim already serves that address it just prints it. So every pod's `shim start` runs in the group's
/// directory (<see cref="Launcher.ShimSettings.GroupDirectory"/>): the first launches the shim, the others join it.
/// The shim ignores Shutdown while it has tasks, but Isola decides when the last pod went from its member records (one
/// empty file per pod), under the lock that every start holds from `shim start` to the pause's Create, so a pod joining
/// as the last one leaves never finds a shim that is about to exit.
/// </summary>
internal sealed partial class ShimController
{
    /// <summary>The annotation containerd-shim-runc-v2 groups tasks by (it takes precedence over the CRI sandbox id).</summary>
    internal const string GroupAnnotation = "io.containerd.runc.v2.group";

    private const string MembersDir = "members";
    private static readonly TimeSpan LastLeavePatience = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan GroupStartPatience = TimeSpan.FromSeconds(30);

    /// <summary>The group of a pod in a shared shim, recorded at Create; null for a pod with its own shim.</summary>
    private static string? GroupOf(SandboxContext sandbox) => sandbox.ControllerData.TryGetValue(Keys.Group, out var group) ? group : null;

    private static string GroupDirectoryOf(SandboxContext sandbox) => sandbox.ControllerData[Keys.GroupDirectory];

    private static string GroupLogKey(string group) => "group:" + group;

    /// <summary>Records the pod as a member and readies the group's directory for `shim start`: its config.json (only
    /// the grouping annotation is read) and its log FIFO, drained into the directory's shim.log. Returns the directory.</summary>
    private string JoinGroup(SandboxContext sandbox)
    {
        var group = GroupOf(sandbox)!;
        var dir = GroupDirectoryOf(sandbox);
        Directory.CreateDirectory(Path.Combine(dir, MembersDir), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var config = Path.Combine(dir, "config.json");
        if (!File.Exists(config))
        {
            var staging = config + "." + Guid.NewGuid().ToString("N");
            File.WriteAllText(staging, new JsonObject
            {
                ["ociVersion"] = "1.0.2",
                ["annotations"] = new JsonObject { [GroupAnnotation] = group },
            }.ToJsonString());
            File.Move(staging, config, overwrite: true);
        }

        File.WriteAllBytes(Path.Combine(dir, MembersDir, sandbox.Id.Value), []);
        if (!_logs.IsAttached(GroupLogKey(group)))
        {
            // reuse: a live shared shim holds the FIFO open for writing; a new one would never be written.
            _logs.Attach(GroupLogKey(group), Path.Combine(dir, "log"), Path.Combine(dir, ShimLogFile), reuse: true);
        }

        return dir;
    }

    /// <summary>
    /// Drops the pod's member record once its tasks are gone; when it was the last, shuts the shared shim down (Shutdown,
    /// then SIGKILL if it is still there: it may be hung) and removes the group's socket and directory. A shim that is
    /// gone (crashed) is only swept up. The other pods' shim is never touched.
    /// </summary>
    private async Task LeaveGroupAsync(SandboxContext sandbox, string? address, uint version, CancellationToken cancellationToken)
    {
        var group = GroupOf(sandbox)!;
        var dir = GroupDirectoryOf(sandbox);
        var members = Path.Combine(dir, MembersDir);
        if (File.Exists(Path.Combine(members, sandbox.Id.Value)))
        {
            File.Delete(Path.Combine(members, sandbox.Id.Value));
        }

        if (Directory.Exists(members) && Directory.EnumerateFileSystemEntries(members).Any())
        {
            return;
        }

        using var held = await StartsLock.TryExclusiveAsync(LastLeavePatience).ConfigureAwait(false);
        if (held is null)
        {
            _logger.LogWarning("sandbox {Id}: pod starts kept the lock for {Seconds} s; the shared shim of group {Group} stays for the next pod to leave",
                sandbox.Id, LastLeavePatience.TotalSeconds, group);
            return;
        }

        if (Directory.Exists(members) && Directory.EnumerateFileSystemEntries(members).Any())
        {
            return; // a pod joined meanwhile
        }

        address ??= Launcher.ShimLauncher.ReadBundleFile(dir, Launcher.ShimLauncher.AddressFile) is { Length: > 0 } written
            ? Launcher.ShimStartResult.Parse(written, SettingsOf(sandbox).ShimBinary).TaskAddress
            : null;
        if (GroupShim(sandbox, address) is { } pid)
        {
            using (Diagnostics.ShimActivities.Phase("shared shim shutdown + exit", sandbox.Id.Value))
            {
                await TryShutdownGroupShimAsync(sandbox, address!, version, pid, cancellationToken).ConfigureAwait(false);
            }

            if (GroupShim(sandbox, address) is { } still)
            {
                _logger.LogInformation("sandbox {Id}: shared shim pid {Pid} still runs after its last pod; killing it", sandbox.Id, still);
                await ShimProcesses.KillAsync(still).ConfigureAwait(false);
            }
        }

        RemoveShimSocket(address);
        _logs.Detach(GroupLogKey(group));
        TryDelete(dir);
    }

    // Shutdown through a connection of its own (the pods' are closed): the shim exits once it has no tasks.
    private async Task TryShutdownGroupShimAsync(SandboxContext sandbox, string address, uint version, int pid, CancellationToken cancellationToken)
    {
        try
        {
            var client = await ClientAsync(sandbox, address, version, cancellationToken).ConfigureAwait(false);
            await ShutdownShimAsync(client, sandbox, address, cancellationToken).ConfigureAwait(false);
        }
        catch (IsolaException e) when (e.Code is IsolaErrorCode.Unavailable or IsolaErrorCode.DeadlineExceeded or IsolaErrorCode.Unknown or IsolaErrorCode.Internal)
        {
            _logger.LogInformation("sandbox {Id}: shutdown of the shared shim pid {Pid} failed ({Error})", sandbox.Id, pid, e.Message);
        }
    }

    /// <summary>The live shared shim of the pod's group: the process serving its socket, checked by command line
    /// (-id is the group's), so a reused pid or another group's shim is never signalled.</summary>
    private int? GroupShim(SandboxContext sandbox, string? address)
    {
        var settings = SettingsOf(sandbox);
        var group = GroupOf(sandbox)!;
        if (ShimSocketOf(address) is { } socket && ShimProcesses.FindBySocket(socket) is { } owner &&
            ShimProcesses.IsShim(owner, group, settings.Namespace, settings.ContainerdAddress))
        {
            return owner;
        }

        return ShimProcesses.FindLiveShim(group, settings.Namespace, settings.ContainerdAddress);
    }
}
