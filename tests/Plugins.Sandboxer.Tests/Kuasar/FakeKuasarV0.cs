using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Isola.SandboxApi;
using Isola.SandboxApi.Cri;
using Isola.SandboxApi.Types;
using Isola.SandboxApi.V0;

namespace Isola.Plugins.Sandboxer.Tests.Kuasar;

/// <summary>Kuasar 0.x's Controller (protocols.md 1.3): sandboxer=1, sandbox_id=2; Prepare returns the host bundle
/// and requires spec JSON Kuasar can decode; no Metrics, no Update (both answer Unimplemented).</summary>
internal sealed class FakeKuasarV0(KuasarState state, string workDir) : Controller.ControllerBase
{
    public override Task<ControllerCreateResponse> Create(ControllerCreateRequest request, ServerCallContext context)
    {
        state.Requests.Enqueue(request);
        KuasarState.RequireId(request.SandboxId);
        var sandbox = new KuasarSandbox(request.SandboxId);
        try
        {
            sandbox.Config = request.Options is null ? null : PodSandboxConfig.Parser.ParseFrom(request.Options.Value);
        }
        catch (Google.Protobuf.InvalidProtocolBufferException)
        {
            sandbox.Config = null;
        }

        if (!state.Sandboxes.TryAdd(request.SandboxId, sandbox))
        {
            throw new RpcException(new Status(StatusCode.AlreadyExists, $"sandbox {request.SandboxId} already exists"));
        }

        return Task.FromResult(new ControllerCreateResponse { SandboxId = request.SandboxId });
    }

    public override Task<ControllerStartResponse> Start(ControllerStartRequest request, ServerCallContext context)
    {
        state.Requests.Enqueue(request);
        KuasarState.RequireId(request.SandboxId);
        var sandbox = state.Get(request.SandboxId);
        sandbox.Start();
        return Task.FromResult(new ControllerStartResponse
        {
            SandboxId = request.SandboxId,
            Pid = KuasarState.VmmPid,
            CreatedAt = Timestamp.FromDateTimeOffset(sandbox.CreatedAt),
            TaskAddress = KuasarState.TaskAddressV0,
        });
    }

    public override Task<ControllerPlatformResponse> Platform(ControllerPlatformRequest request, ServerCallContext context)
    {
        state.Requests.Enqueue(request);
        return Task.FromResult(new ControllerPlatformResponse { Platform = new Platform { Os = "linux", Architecture = "x86" } });
    }

    public override Task<PrepareResponse> Prepare(PrepareRequest request, ServerCallContext context)
    {
        state.Requests.Enqueue(request);
        KuasarState.RequireId(request.SandboxId);
        var sandbox = state.Get(request.SandboxId);
        state.FailIfInjected();
        var json = request.Spec?.Value.ToStringUtf8() ?? "";
        if (request.ExecId.Length == 0)
        {
            KuasarTaskRules.CheckSpec(json);
            sandbox.Containers[request.ContainerId] = json;
        }
        else
        {
            KuasarTaskRules.CheckProcess(json);
            if (!sandbox.Containers.ContainsKey(request.ContainerId))
            {
                throw new RpcException(new Status(StatusCode.NotFound, $"container {request.ContainerId} not found"));
            }
        }

        return Task.FromResult(new PrepareResponse { Bundle = $"{workDir}/{request.SandboxId}/shared/{request.ContainerId}" });
    }

    public override Task<PurgeResponse> Purge(PurgeRequest request, ServerCallContext context)
    {
        state.Requests.Enqueue(request);
        KuasarState.RequireId(request.SandboxId);
        state.Get(request.SandboxId).Containers.Remove(request.ContainerId);
        return Task.FromResult(new PurgeResponse());
    }

    public override Task<UpdateResourcesResponse> UpdateResources(UpdateResourcesRequest request, ServerCallContext context)
    {
        state.Requests.Enqueue(request);
        // A no-op in Kuasar 0.x.
        return Task.FromResult(new UpdateResourcesResponse());
    }

    public override Task<ControllerStopResponse> Stop(ControllerStopRequest request, ServerCallContext context)
    {
        state.Requests.Enqueue(request);
        KuasarState.RequireId(request.SandboxId);
        if (state.Sandboxes.TryGetValue(request.SandboxId, out var sandbox))
        {
            sandbox.ForceStop();
        }

        return Task.FromResult(new ControllerStopResponse());
    }

    public override async Task<ControllerWaitResponse> Wait(ControllerWaitRequest request, ServerCallContext context)
    {
        state.Requests.Enqueue(request);
        KuasarState.RequireId(request.SandboxId);
        var sandbox = state.Get(request.SandboxId);
        await sandbox.Exited.WaitAsync(context.CancellationToken);
        return new ControllerWaitResponse { ExitStatus = 137, ExitedAt = Timestamp.FromDateTimeOffset(sandbox.ExitedAt!.Value) };
    }

    public override Task<ControllerStatusResponse> Status(ControllerStatusRequest request, ServerCallContext context)
    {
        state.Requests.Enqueue(request);
        KuasarState.RequireId(request.SandboxId);
        var sandbox = state.Get(request.SandboxId);
        return Task.FromResult(new ControllerStatusResponse
        {
            SandboxId = sandbox.Id,
            Pid = sandbox.Running ? KuasarState.VmmPid : 0,
            State = sandbox.Running ? SandboxStates.Ready : SandboxStates.NotReady,
            TaskAddress = KuasarState.TaskAddressV0,
            CreatedAt = Timestamp.FromDateTimeOffset(sandbox.CreatedAt),
        });
    }

    public override Task<ControllerShutdownResponse> Shutdown(ControllerShutdownRequest request, ServerCallContext context)
    {
        state.Requests.Enqueue(request);
        KuasarState.RequireId(request.SandboxId);
        if (state.Sandboxes.TryRemove(request.SandboxId, out var sandbox))
        {
            sandbox.ForceStop();
        }

        return Task.FromResult(new ControllerShutdownResponse());
    }
}
