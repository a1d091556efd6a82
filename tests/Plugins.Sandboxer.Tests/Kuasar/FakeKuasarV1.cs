using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Isola.SandboxApi;
using Isola.SandboxApi.Cri;
using Isola.SandboxApi.Types;
using Isola.SandboxApi.V1;

namespace Isola.Plugins.Sandboxer.Tests.Kuasar;

/// <summary>Kuasar 1.x's Controller as protocols.md 1.5 documents it: records each request and answers with its
/// quirks (Platform "x86", string states, NotFound as OK for Stop/Shutdown, version 2, Metrics null).</summary>
internal sealed class FakeKuasarV1(KuasarState state) : Controller.ControllerBase
{
    public override Task<ControllerCreateResponse> Create(ControllerCreateRequest request, ServerCallContext context)
    {
        state.Requests.Enqueue(request);
        KuasarState.RequireId(request.SandboxId);
        var sandbox = new KuasarSandbox(request.SandboxId);
        try
        {
            // The type url is ignored; a value that does not decode leaves the config unset (Kuasar only warns).
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

        if (state.ResetAfterNextCreate)
        {
            state.ResetAfterNextCreate = false;
            context.GetHttpContext().Abort();
            throw new RpcException(new Status(StatusCode.Internal, "reset after create"));
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
            Address = KuasarState.TaskAddressV1,
            Version = 2,
            Labels = { state.StartLabels },
        });
    }

    public override Task<ControllerPlatformResponse> Platform(ControllerPlatformRequest request, ServerCallContext context)
    {
        state.Requests.Enqueue(request);
        // Hard-coded and answered without looking the sandbox up.
        return Task.FromResult(new ControllerPlatformResponse { Platform = new Platform { Os = "linux", Architecture = "x86", Variant = "" } });
    }

    public override Task<ControllerStopResponse> Stop(ControllerStopRequest request, ServerCallContext context)
    {
        state.Requests.Enqueue(request);
        KuasarState.RequireId(request.SandboxId);
        // timeout_secs is ignored: the VM is always force-stopped; NotFound is reported as OK.
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
        var response = new ControllerStatusResponse
        {
            SandboxId = sandbox.Id,
            Pid = sandbox.Running ? KuasarState.VmmPid : 0,
            State = sandbox.Running ? SandboxStates.Ready : SandboxStates.NotReady,
            CreatedAt = Timestamp.FromDateTimeOffset(sandbox.CreatedAt),
            Address = KuasarState.TaskAddressV1,
            Version = 2,
        };
        if (sandbox.ExitedAt is { } exited)
        {
            response.ExitedAt = Timestamp.FromDateTimeOffset(exited);
        }

        return Task.FromResult(response);
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

    public override Task<ControllerMetricsResponse> Metrics(ControllerMetricsRequest request, ServerCallContext context)
    {
        state.Requests.Enqueue(request);
        return Task.FromResult(new ControllerMetricsResponse());
    }

    public override Task<ControllerUpdateResponse> Update(ControllerUpdateRequest request, ServerCallContext context)
    {
        state.Requests.Enqueue(request);
        KuasarState.RequireId(request.SandboxId);
        if (!request.Fields.Contains(TypeUrls.TasksField))
        {
            return Task.FromResult(new ControllerUpdateResponse());
        }

        var sandbox = state.Get(request.SandboxId);
        state.FailIfInjected();
        var any = request.Sandbox?.Extensions.GetValueOrDefault(TypeUrls.TasksExtension);
        var list = KuasarTaskRules.ParseTasks(any is null ? default : any.Value.Span);
        var previous = sandbox.Tasks.Tasks.Select(t => t.TaskId).ToHashSet();
        // Exec processes listed with a task that is new in this Update are never appended (Kuasar's diff quirk).
        foreach (var task in list.Tasks.Where(t => !previous.Contains(t.TaskId)))
        {
            task.Processes.Clear();
        }

        sandbox.Tasks = list;
        return Task.FromResult(new ControllerUpdateResponse());
    }
}
