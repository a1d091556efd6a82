using System.Text;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Isola.Controllers;
using Isola.Plugins.Sandboxer.Transport;
using Isola.SandboxApi;
using Isola.SandboxApi.V0;
using PrepareRequest = Isola.Controllers.PrepareRequest;
using PurgeRequest = Isola.Controllers.PurgeRequest;
using UpdateResourcesRequest = Isola.Controllers.UpdateResourcesRequest;

namespace Isola.Plugins.Sandboxer.Wire;

/// <summary>Kuasar 0.x and the kuasar-io/containerd fork: sandboxer=1, sandbox_id=2 in every request, containers
/// registered one at a time with Prepare/Purge, and the task address without the "ttrpc+" prefix.</summary>
internal sealed class V0GenerationClient(Controller.ControllerClient client, string sandboxer) : IGenerationClient
{
    /// <summary>This generation predates the version field; Kuasar 0.x serves containerd.task.v2.</summary>
    public const uint TaskApiVersion = 2;

    public SandboxApiGeneration Generation => SandboxApiGeneration.V0;

    public async Task CreateAsync(SandboxContext sandbox, CallOptions options)
    {
        var request = new ControllerCreateRequest
        {
            Sandboxer = sandboxer,
            SandboxId = sandbox.Id.Value,
            Options = PodSandboxConfigMapper.Pack(sandbox),
            NetnsPath = PodSandboxConfigMapper.NetnsPath(sandbox.Spec),
        };
        var response = await client.CreateAsync(request, options).ConfigureAwait(false);
        if (response.SandboxId.Length > 0 && response.SandboxId != sandbox.Id.Value)
        {
            // A v1 server reads our sandboxer (field 1) as its sandbox_id and echoes it back.
            throw IsolaException.FailedPrecondition(
                $"sandbox '{sandbox.Id}': the sandboxer created sandbox '{response.SandboxId}' instead: it speaks the v1 Sandbox API (set Api to v1 or auto)");
        }
    }

    public async Task<ControllerStartResult> StartAsync(SandboxContext sandbox, CallOptions options)
    {
        var r = await client.StartAsync(new ControllerStartRequest { Sandboxer = sandboxer, SandboxId = sandbox.Id.Value }, options)
            .ConfigureAwait(false);
        return new ControllerStartResult(r.Pid, Conversions.ToDateTimeOffset(r.CreatedAt) ?? DateTimeOffset.UtcNow, r.TaskAddress, TaskApiVersion)
        {
            Labels = new Dictionary<string, string>(r.Labels),
        };
    }

    public async Task<PlatformInfo> PlatformAsync(SandboxContext sandbox, CallOptions options)
    {
        var r = await client.PlatformAsync(new ControllerPlatformRequest { Sandboxer = sandboxer, SandboxId = sandbox.Id.Value }, options)
            .ConfigureAwait(false);
        return new PlatformInfo(r.Platform?.Os ?? "", r.Platform?.Architecture ?? "", r.Platform?.Variant ?? "");
    }

    public async Task<PrepareResult> PrepareAsync(SandboxContext sandbox, PrepareRequest request, CallOptions options)
    {
        var isExec = request.ExecId is not null;
        var json = (isExec ? OciJson.FillProcess(request.OciSpec) : OciJson.FillSpec(request.OciSpec)).ToJsonString();
        var rootfs = Conversions.RootfsMount(request.Container);
        var prepare = new SandboxApi.V0.PrepareRequest
        {
            Sandboxer = sandboxer,
            SandboxId = sandbox.Id.Value,
            ContainerId = request.ContainerId.Value,
            ExecId = request.ExecId?.Value ?? "",
            // Kuasar decodes the value as JSON and ignores the type url.
            Spec = new Any { TypeUrl = isExec ? TypeUrls.OciProcess : TypeUrls.OciSpec, Value = ByteString.CopyFrom(json, Encoding.UTF8) },
            Stdin = request.Stdio.Stdin,
            Stdout = request.Stdio.Stdout,
            Stderr = request.Stdio.Stderr,
            Terminal = request.Container.Terminal,
        };
        if (!isExec)
        {
            prepare.Rootfs.Add(Conversions.ToProto(rootfs));
        }

        var r = await client.PrepareAsync(prepare, options).ConfigureAwait(false);
        return new PrepareResult(r.Bundle, isExec ? [] : [rootfs]);
    }

    public async Task PurgeAsync(SandboxContext sandbox, PurgeRequest request, CallOptions options)
    {
        var purge = new SandboxApi.V0.PurgeRequest
        {
            Sandboxer = sandboxer,
            SandboxId = sandbox.Id.Value,
            ContainerId = request.ContainerId.Value,
            ExecId = request.ExecId?.Value ?? "",
        };
        try
        {
            await client.PurgeAsync(purge, options).ConfigureAwait(false);
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.NotFound)
        {
            // Purging what is already gone is done.
        }
    }

    public async Task UpdateResourcesAsync(SandboxContext sandbox, UpdateResourcesRequest request, CallOptions options)
    {
        var update = new SandboxApi.V0.UpdateResourcesRequest
        {
            Sandboxer = sandboxer,
            SandboxId = sandbox.Id.Value,
            ContainerId = request.ContainerId?.Value ?? "",
            Resources = new Any
            {
                TypeUrl = TypeUrls.OciLinuxResources,
                Value = ByteString.CopyFrom(OciSpecEdits.Resources(request.Resources).ToJsonString(), Encoding.UTF8),
            },
            Annotations = { Conversions.Copy(request.Annotations) },
        };
        await client.UpdateResourcesAsync(update, options).ConfigureAwait(false);
    }

    public async Task StopAsync(SandboxContext sandbox, uint timeoutSeconds, CallOptions options) =>
        await client.StopAsync(new ControllerStopRequest { Sandboxer = sandboxer, SandboxId = sandbox.Id.Value, TimeoutSecs = timeoutSeconds }, options)
            .ConfigureAwait(false);

    public async Task<ExitStatus> WaitAsync(SandboxContext sandbox, CallOptions options)
    {
        var r = await client.WaitAsync(new ControllerWaitRequest { Sandboxer = sandboxer, SandboxId = sandbox.Id.Value }, options)
            .ConfigureAwait(false);
        return Conversions.ToExit(r.ExitStatus, r.ExitedAt);
    }

    public async Task<ControllerStatus> StatusAsync(SandboxContext sandbox, bool verbose, CallOptions options)
    {
        var r = await client.StatusAsync(new ControllerStatusRequest { Sandboxer = sandboxer, SandboxId = sandbox.Id.Value, Verbose = verbose }, options)
            .ConfigureAwait(false);
        return new ControllerStatus
        {
            Ready = Conversions.IsReady(r.State, sandbox.Id),
            Pid = r.Pid,
            TaskAddress = r.TaskAddress,
            TaskApiVersion = r.TaskAddress.Length > 0 ? TaskApiVersion : 0,
            CreatedAt = Conversions.ToDateTimeOffset(r.CreatedAt),
            ExitedAt = Conversions.ToDateTimeOffset(r.ExitedAt),
            Info = new Dictionary<string, string>(r.Info),
        };
    }

    public async Task ShutdownAsync(SandboxContext sandbox, CallOptions options) =>
        await client.ShutdownAsync(new ControllerShutdownRequest { Sandboxer = sandboxer, SandboxId = sandbox.Id.Value }, options)
            .ConfigureAwait(false);
}
