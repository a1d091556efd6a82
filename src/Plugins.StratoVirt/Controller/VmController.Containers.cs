using System.Globalization;
using System.Text.Json;
using Isola.Controllers;
using Isola.Plugins.StratoVirt.Vmm;
using Isola.Vmm;
using Microsoft.Extensions.Logging;

namespace Isola.Plugins.StratoVirt.Controller;

/// <summary>Containers in a VM sandbox: their bundles in the virtiofs share, their rootfs hot-plugged or bind-mounted,
/// and the record of what was done so that Purge works after a host restart.</summary>
internal sealed partial class VmController
{
    public async Task<PrepareResult> PrepareAsync(SandboxContext sandbox, PrepareRequest request, CancellationToken cancellationToken)
    {
        var cid = request.ContainerId.Value;
        var containers = Containers(sandbox);
        if (request.ExecId is { } execId)
        {
            // The guest agent runs exec processes from the container's bundle; only their output files are staged.
            return containers.ContainsKey(cid)
                ? new PrepareResult(ContainerRootfs.GuestBundle(cid), [])
                {
                    Stdio = _options.SharedFs
                        ? SharedStdio.Translate(sandbox.Id, sandbox.TaskAddress, cid, execId.Value, request.Stdio, Path.Combine(SharedDirectory(sandbox), cid))
                        : StreamedStdio.Translate(sandbox.TaskAddress, cid, execId.Value, request.Stdio),
                }
                : throw IsolaException.NotFound($"sandbox {sandbox.Id}: container {cid} is not prepared");
        }

        if (containers.ContainsKey(cid))
        {
            throw IsolaException.AlreadyExists($"sandbox {sandbox.Id}: container {cid} is already prepared");
        }

        var rootfs = request.Container.Rootfs;
        if (!Path.IsPathFullyQualified(rootfs))
        {
            throw IsolaException.InvalidArgument($"sandbox {sandbox.Id}: container {cid} rootfs '{rootfs}' must be an absolute path");
        }

        if (!_options.SharedFs)
        {
            return await PrepareUnsharedAsync(sandbox, containers, cid, request, cancellationToken).ConfigureAwait(false);
        }

        var bundle = Path.Combine(SharedDirectory(sandbox), cid);
        Directory.CreateDirectory(bundle, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        try
        {
            ContainerRootfs.WriteConfig(bundle, request.OciSpec, request.Container.ReadOnlyRootfs);
            var stdio = SharedStdio.Translate(sandbox.Id, sandbox.TaskAddress, cid, null, request.Stdio, bundle);
            PreparedContainer prepared;
            IReadOnlyList<Mount> mounts = [];
            if (Directory.Exists(rootfs))
            {
                ContainerRootfs.BindMount(sandbox.Id, rootfs, Path.Combine(bundle, "rootfs"), request.Container.ReadOnlyRootfs);
                prepared = new PreparedContainer("dir", null);
            }
            else if (ContainerRootfs.IsBlock(rootfs))
            {
                Directory.CreateDirectory(Path.Combine(bundle, "rootfs"));
                await using var lease = await _vms.AcquireAsync(sandbox, cancellationToken).ConfigureAwait(false);
                var vm = lease.Vm;
                var deviceId = NextDeviceId(sandbox);
                var plugged = await vm.HotplugBlockAsync(new BlockDeviceSpec(deviceId, rootfs, request.Container.ReadOnlyRootfs), cancellationToken).ConfigureAwait(false);
                SaveRecovery(sandbox, vm);
                prepared = new PreparedContainer("block", deviceId);
                // Only what mount(2) understands: the guest agent hands the options to the kernel.
                mounts = [new Mount(ContainerRootfs.ProbeFsType(rootfs), GuestDeviceSource(plugged), "",
                    [request.Container.ReadOnlyRootfs ? "ro" : "rw"])];
            }
            else
            {
                throw IsolaException.NotFound($"sandbox {sandbox.Id}: container {cid} rootfs '{rootfs}' does not exist");
            }

            containers[cid] = prepared;
            SaveContainers(sandbox, containers);
            _logger.LogInformation("sandbox {Id}: container {Cid} prepared ({Kind} rootfs {Rootfs})", sandbox.Id, cid, prepared.Kind, rootfs);
            return new PrepareResult(ContainerRootfs.GuestBundle(cid), mounts) { Stdio = stdio };
        }
        catch
        {
            ContainerRootfs.RemoveBundle(sandbox.Id, bundle);
            throw;
        }
    }

    /// <summary>
    /// A container in a VM that shares no filesystem with the host: its rootfs must be a block device or image file
    /// (hot-plugged), its config.json travels in Create's options for the agent to write the bundle in the guest, and
    /// its stdio is streamed over the agent channel.
    /// </summary>
    private async Task<PrepareResult> PrepareUnsharedAsync(SandboxContext sandbox, Dictionary<string, PreparedContainer> containers,
        string cid, PrepareRequest request, CancellationToken cancellationToken)
    {
        var rootfs = request.Container.Rootfs;
        if (Directory.Exists(rootfs))
        {
            throw IsolaException.FailedPrecondition(
                $"sandbox {sandbox.Id}: container {cid} rootfs '{rootfs}' is a directory, which only a shared filesystem can carry ({_options.ConfigPath}:SharedFs is false): use an image file or block device");
        }

        if (!ContainerRootfs.IsBlock(rootfs))
        {
            throw IsolaException.NotFound($"sandbox {sandbox.Id}: container {cid} rootfs '{rootfs}' does not exist");
        }

        var config = ContainerRootfs.GuestConfig(request.OciSpec, request.Container.ReadOnlyRootfs);
        var stdio = StreamedStdio.Translate(sandbox.TaskAddress, cid, null, request.Stdio);
        await using var lease = await _vms.AcquireAsync(sandbox, cancellationToken).ConfigureAwait(false);
        var deviceId = NextDeviceId(sandbox);
        var plugged = await lease.Vm.HotplugBlockAsync(new BlockDeviceSpec(deviceId, rootfs, request.Container.ReadOnlyRootfs), cancellationToken)
            .ConfigureAwait(false);
        SaveRecovery(sandbox, lease.Vm);
        containers[cid] = new PreparedContainer("block", deviceId);
        SaveContainers(sandbox, containers);
        _logger.LogInformation("sandbox {Id}: container {Cid} prepared (block rootfs {Rootfs}, no shared filesystem)", sandbox.Id, cid, rootfs);
        return new PrepareResult(ContainerRootfs.GuestBundle(cid),
            [new Mount(ContainerRootfs.ProbeFsType(rootfs), GuestDeviceSource(plugged), "", [request.Container.ReadOnlyRootfs ? "ro" : "rw"])])
        {
            Stdio = stdio,
            Options = (BundleConfigTypeUrl, BundleConfig(config)),
        };
    }

    public async Task PurgeAsync(SandboxContext sandbox, PurgeRequest request, CancellationToken cancellationToken)
    {
        var containers = Containers(sandbox);
        var cid = request.ContainerId.Value;
        if (request.ExecId is { } execId)
        {
            SharedStdio.RemoveExecFiles(sandbox.Id, Path.Combine(SharedDirectory(sandbox), cid), execId);
            return;
        }

        if (!containers.TryGetValue(cid, out var prepared))
        {
            return;
        }

        if (prepared is { Kind: "block", DeviceId: { } deviceId })
        {
            await using var lease = await _vms.TryAcquireRunningAsync(sandbox, cancellationToken).ConfigureAwait(false);
            if (lease is not null && lease.Vm.Devices.Any(d => d.Id == deviceId))
            {
                await lease.Vm.UnplugAsync(deviceId, cancellationToken).ConfigureAwait(false);
                SaveRecovery(sandbox, lease.Vm);
            }
        }

        ContainerRootfs.RemoveBundle(sandbox.Id, Path.Combine(SharedDirectory(sandbox), cid));
        containers.Remove(cid);
        SaveContainers(sandbox, containers);
        _logger.LogInformation("sandbox {Id}: container {Cid} purged", sandbox.Id, request.ContainerId);
    }

    private const string BundleConfigTypeUrl = "isola.agent.v1.BundleConfig";

    private static byte[] BundleConfig(string configJson) =>
        Google.Protobuf.MessageExtensions.ToByteArray(new Isola.TaskApi.Protos.Agent.BundleConfig
        {
            ConfigJson = Google.Protobuf.ByteString.CopyFromUtf8(configJson),
        });

    private static string GuestDeviceSource(PluggedDevice plugged) => plugged.GuestAddress ?? plugged.Slot;

    private static Dictionary<string, PreparedContainer> Containers(SandboxContext sandbox) =>
        sandbox.ControllerData.TryGetValue(ContainersKey, out var json)
            ? JsonSerializer.Deserialize<Dictionary<string, PreparedContainer>>(json) ?? []
            : [];

    private static void SaveContainers(SandboxContext sandbox, Dictionary<string, PreparedContainer> containers) =>
        sandbox.ControllerData[ContainersKey] = JsonSerializer.Serialize(containers);

    private static string NextDeviceId(SandboxContext sandbox)
    {
        var n = int.TryParse(Data(sandbox, NextDeviceKey), CultureInfo.InvariantCulture, out var v) ? v : 0;
        sandbox.ControllerData[NextDeviceKey] = (n + 1).ToString(CultureInfo.InvariantCulture);
        return "blk" + n.ToString(CultureInfo.InvariantCulture);
    }
}
