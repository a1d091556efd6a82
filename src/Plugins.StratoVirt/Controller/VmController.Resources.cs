using System.Globalization;
using Isola.Controllers;
using Isola.Plugins.StratoVirt.Vmm;
using Isola.Plugins.StratoVirt.Vmm.Processes;
using Isola.Plugins.StratoVirt.Vmm.Vsock;
using Microsoft.Extensions.Logging;

namespace Isola.Plugins.StratoVirt.Controller;

/// <summary>The sandbox's resources on the host: its share (hostname, hosts, resolv.conf), its vsock CID, and removing
/// all of it, files and bundles included, at Shutdown.</summary>
internal sealed partial class VmController
{
    public Task CreateAsync(SandboxContext sandbox, CancellationToken cancellationToken)
    {
        _options.RequireFiles(sandbox.Id);
        var layout = new VmLayout(sandbox.StateDirectory);
        layout.ValidateSocketPaths(sandbox.Id);
        Directory.CreateDirectory(sandbox.StateDirectory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var shared = SharedDirectory(sandbox);
        try
        {
            if (_options.SharedFs)
            {
                Directory.CreateDirectory(shared, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
                ContainerRootfs.MakeSharedMount(sandbox.Id, sandbox.StateDirectory);
                // What Kuasar's vmm-task expects to find in the share for the pod.
                File.WriteAllText(Path.Combine(shared, "hostname"), (sandbox.Spec.Hostname ?? sandbox.Name) + "\n");
                File.Copy("/etc/hosts", Path.Combine(shared, "hosts"), overwrite: true);
                File.WriteAllText(Path.Combine(shared, "resolv.conf"), sandbox.Spec.DnsServers.Count > 0
                    ? string.Concat(sandbox.Spec.DnsServers.Select(s => $"nameserver {s}\n"))
                    : File.Exists("/etc/resolv.conf") ? File.ReadAllText("/etc/resolv.conf") : "");
            }

            if (Channel() == AgentChannel.Vsock)
            {
                var (cid, handle) = VsockCidAllocator.Allocate(sandbox.Id);
                _cidHandles[sandbox.Id] = handle;
                sandbox.ControllerData[CidKey] = cid.ToString(CultureInfo.InvariantCulture);
            }
        }
        catch
        {
            // Bad input leaves nothing behind.
            if (Directory.Exists(shared))
            {
                ContainerRootfs.DropSharedMount(sandbox.Id, sandbox.StateDirectory);
                Directory.Delete(shared, recursive: true);
            }

            throw;
        }

        return Task.CompletedTask;
    }

    public async Task ShutdownAsync(SandboxContext sandbox, CancellationToken cancellationToken)
    {
        await StopAsync(sandbox, TimeSpan.FromSeconds(2), cancellationToken).ConfigureAwait(false);

        // A VMM that died on its own (no Stop ran) may leave its virtiofs daemon behind.
        if (ProcessIdentity.Parse(Data(sandbox, RecoveryKeys.Virtiofsd)) is { } virtiofsd && virtiofsd.IsAlive())
        {
            await VmmLauncher.KillAndWaitAsync(virtiofsd, TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }

        foreach (var cid in Containers(sandbox).Keys.ToList())
        {
            // The record's keys are ids this controller prepared; parsing them is where they come back from disk.
            await PurgeAsync(sandbox, new PurgeRequest(ContainerId.Parse(cid)), cancellationToken).ConfigureAwait(false);
        }

        if (_cidHandles.TryRemove(sandbox.Id, out var handle))
        {
            handle.Dispose();
        }

        var layout = new VmLayout(sandbox.StateDirectory);
        foreach (var f in new[] { layout.QmpSocket, layout.PidFile, layout.AgentSocket, layout.VirtiofsSocket, layout.DefaultConsoleLog, layout.VirtiofsLog, layout.DebugLog, layout.OutputLog })
        {
            File.Delete(f);
        }

        var shared = SharedDirectory(sandbox);
        if (Directory.Exists(shared))
        {
            foreach (var dir in Directory.GetDirectories(shared))
            {
                // A leftover bundle of a container the record no longer knows: never recurse into a mount.
                ContainerRootfs.RemoveBundle(sandbox.Id, dir);
            }

            Directory.Delete(shared, recursive: true);
        }

        foreach (var key in sandbox.ControllerData.Keys.Where(k => k.StartsWith("vm", StringComparison.Ordinal)).ToList())
        {
            sandbox.ControllerData.Remove(key);
        }

        ContainerRootfs.DropSharedMount(sandbox.Id, sandbox.StateDirectory);
        _logger.LogInformation("sandbox {Id}: VM resources released", sandbox.Id);
    }

    private static string SharedDirectory(SandboxContext sandbox) => Path.Combine(sandbox.StateDirectory, "shared");

    private static string ConsoleLog(SandboxContext sandbox) => new VmLayout(sandbox.StateDirectory).DefaultConsoleLog;
}
