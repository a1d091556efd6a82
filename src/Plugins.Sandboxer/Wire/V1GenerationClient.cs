using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Isola.Controllers;
using Isola.Plugins.Sandboxer.Tasks;
using Isola.Plugins.Sandboxer.Transport;
using Isola.SandboxApi;
using Isola.SandboxApi.Tasks;
using Isola.SandboxApi.V1;

namespace Isola.Plugins.Sandboxer.Wire;

/// <summary>Kuasar 1.x / containerd 2.x: containers are registered by re-sending the whole task list with
/// Update(fields=["extensions.tasks"]).</summary>
internal sealed class V1GenerationClient(Controller.ControllerClient client, string sandboxer, string runtimeName)
    : IGenerationClient
{
    /// <summary>The Start/Status label by which <c>isola serve</c> says where it writes container bundles.</summary>
    public const string BundleRootLabel = "io.isola.sandbox-api/bundle-root";

    /// <summary>Where Kuasar's guest agent finds a prepared container (it ignores Task.Create's bundle).</summary>
    public const string KuasarGuestStateDir = "/run/kuasar/state";

    internal const string BundleRootKey = "sandboxer.bundle-root";

    public SandboxApiGeneration Generation => SandboxApiGeneration.V1;

    public async Task CreateAsync(SandboxContext sandbox, CallOptions options)
    {
        var now = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow);
        var request = new ControllerCreateRequest
        {
            SandboxId = sandbox.Id.Value,
            Sandboxer = sandboxer,
            Options = PodSandboxConfigMapper.Pack(sandbox),
            NetnsPath = PodSandboxConfigMapper.NetnsPath(sandbox.Spec),
            Annotations = { Conversions.Copy(sandbox.Spec.Annotations) },
            Sandbox = NewSandboxMetadata(sandbox, now),
        };
        request.Sandbox.CreatedAt = now;
        var response = await client.CreateAsync(request, options).ConfigureAwait(false);
        CheckEcho(response.SandboxId, sandbox.Id.Value);
    }

    public async Task<ControllerStartResult> StartAsync(SandboxContext sandbox, CallOptions options)
    {
        var r = await client.StartAsync(new ControllerStartRequest { SandboxId = sandbox.Id.Value, Sandboxer = sandboxer }, options)
            .ConfigureAwait(false);
        CheckVersion(r.Version, r.Address, sandbox.Id, "Start");
        if (r.Labels.TryGetValue(BundleRootLabel, out var root) && root.StartsWith('/'))
        {
            sandbox.ControllerData[BundleRootKey] = root;
        }

        return new ControllerStartResult(r.Pid, Conversions.ToDateTimeOffset(r.CreatedAt) ?? DateTimeOffset.UtcNow, r.Address, r.Version)
        {
            Labels = new Dictionary<string, string>(r.Labels),
        };
    }

    public async Task<PlatformInfo> PlatformAsync(SandboxContext sandbox, CallOptions options)
    {
        var r = await client.PlatformAsync(new ControllerPlatformRequest { SandboxId = sandbox.Id.Value, Sandboxer = sandboxer }, options)
            .ConfigureAwait(false);
        return new PlatformInfo(r.Platform?.Os ?? "", r.Platform?.Architecture ?? "", r.Platform?.Variant ?? "");
    }

    public async Task<PrepareResult> PrepareAsync(SandboxContext sandbox, PrepareRequest request, CallOptions options)
    {
        var list = TaskListStore.Load(sandbox);
        var stdio = request.Stdio;
        if (request.ExecId is null)
        {
            var rootfs = Conversions.RootfsMount(request.Container);
            list.Tasks.RemoveAll(t => t.TaskId == request.ContainerId.Value);
            list.Tasks.Add(new TaskResource
            {
                TaskId = request.ContainerId.Value,
                Spec = OciJson.FillSpec(request.OciSpec),
                Rootfs = [new TaskMount { Type = rootfs.Type, Source = rootfs.Source, Destination = "", Options = [.. rootfs.Options] }],
                Stdin = stdio.Stdin,
                Stdout = stdio.Stdout,
                Stderr = stdio.Stderr,
            });
            await SendTasksAsync(sandbox, list, options).ConfigureAwait(false);
            return new PrepareResult(BundleFor(sandbox, request.ContainerId.Value), [rootfs]);
        }

        // Kuasar never appends processes listed with a task that is new in the same Update, so an exec must follow
        // its container's own Update.
        var task = list.Find(request.ContainerId.Value) ?? throw IsolaException.NotFound(
            $"sandbox '{sandbox.Id}': container '{request.ContainerId}' is not in the sandboxer's task list; prepare it before exec '{request.ExecId}'");
        var execId = request.ExecId.Value.Value;
        task.Processes.RemoveAll(p => p.ExecId == execId);
        task.Processes.Add(new ProcessResource
        {
            ExecId = execId,
            Spec = OciJson.FillProcess(request.OciSpec),
            Stdin = stdio.Stdin,
            Stdout = stdio.Stdout,
            Stderr = stdio.Stderr,
        });
        await SendTasksAsync(sandbox, list, options).ConfigureAwait(false);
        return new PrepareResult(BundleFor(sandbox, request.ContainerId.Value), []);
    }

    public async Task PurgeAsync(SandboxContext sandbox, PurgeRequest request, CallOptions options)
    {
        var list = TaskListStore.Load(sandbox);
        var containerId = request.ContainerId.Value;
        var removed = request.ExecId is not { } execId
            ? list.Tasks.RemoveAll(t => t.TaskId == containerId)
            : list.Find(containerId)?.Processes.RemoveAll(p => p.ExecId == execId.Value) ?? 0;
        if (removed > 0)
        {
            await SendTasksAsync(sandbox, list, options).ConfigureAwait(false);
        }
    }

    public async Task UpdateResourcesAsync(SandboxContext sandbox, UpdateResourcesRequest request, CallOptions options)
    {
        if (request.ContainerId is not { } containerId)
        {
            throw new IsolaException(IsolaErrorCode.Unimplemented,
                $"sandbox '{sandbox.Id}': the v1 Sandbox API has no sandbox-wide resource update (only containers' specs in the task list)");
        }

        var list = TaskListStore.Load(sandbox);
        var task = list.Find(containerId.Value) ?? throw IsolaException.NotFound(
            $"sandbox '{sandbox.Id}': container '{containerId}' is not in the sandboxer's task list");
        task.Spec ??= [];
        OciSpecEdits.Linux(task.Spec)["resources"] = OciSpecEdits.Resources(request.Resources);
        await SendTasksAsync(sandbox, list, options).ConfigureAwait(false);
    }

    public async Task StopAsync(SandboxContext sandbox, uint timeoutSeconds, CallOptions options) =>
        await client.StopAsync(new ControllerStopRequest { SandboxId = sandbox.Id.Value, Sandboxer = sandboxer, TimeoutSecs = timeoutSeconds }, options)
            .ConfigureAwait(false);

    public async Task<ExitStatus> WaitAsync(SandboxContext sandbox, CallOptions options)
    {
        var r = await client.WaitAsync(new ControllerWaitRequest { SandboxId = sandbox.Id.Value, Sandboxer = sandboxer }, options)
            .ConfigureAwait(false);
        return Conversions.ToExit(r.ExitStatus, r.ExitedAt);
    }

    public async Task<ControllerStatus> StatusAsync(SandboxContext sandbox, bool verbose, CallOptions options)
    {
        var r = await client.StatusAsync(new ControllerStatusRequest { SandboxId = sandbox.Id.Value, Sandboxer = sandboxer, Verbose = verbose }, options)
            .ConfigureAwait(false);
        var ready = Conversions.IsReady(r.State, sandbox.Id);
        if (ready)
        {
            CheckVersion(r.Version, r.Address, sandbox.Id, "Status");
        }

        var info = new Dictionary<string, string>(r.Info);
        if (verbose)
        {
            // Metrics exists only in this generation; verbose status is where a caller asks for everything.
            var metrics = await client.MetricsAsync(new ControllerMetricsRequest { SandboxId = sandbox.Id.Value, Sandboxer = sandboxer }, options)
                .ConfigureAwait(false);
            info["metrics.type"] = metrics.Metrics?.Data?.TypeUrl ?? "";
            info["metrics.bytes"] = (metrics.Metrics?.Data?.Value.Length ?? 0).ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        return new ControllerStatus
        {
            Ready = ready,
            Pid = r.Pid,
            TaskAddress = r.Address,
            TaskApiVersion = r.Version,
            CreatedAt = Conversions.ToDateTimeOffset(r.CreatedAt),
            ExitedAt = Conversions.ToDateTimeOffset(r.ExitedAt),
            Info = info,
        };
    }

    public async Task ShutdownAsync(SandboxContext sandbox, CallOptions options) =>
        await client.ShutdownAsync(new ControllerShutdownRequest { SandboxId = sandbox.Id.Value, Sandboxer = sandboxer }, options)
            .ConfigureAwait(false);

    /// <summary>Sends the whole list; saves it only once the sandboxer accepted it, so a refused change leaves the
    /// recorded list (and the sandboxer's) as they were.</summary>
    private async Task SendTasksAsync(SandboxContext sandbox, TaskResources list, CallOptions options)
    {
        var metadata = NewSandboxMetadata(sandbox, Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow));
        metadata.Extensions[TypeUrls.TasksExtension] = new Any { TypeUrl = TypeUrls.Tasks, Value = ByteString.CopyFrom(list.ToUtf8Json()) };
        var request = new ControllerUpdateRequest
        {
            SandboxId = sandbox.Id.Value,
            Sandboxer = sandboxer,
            Sandbox = metadata,
            Fields = { TypeUrls.TasksField },
        };
        await client.UpdateAsync(request, options).ConfigureAwait(false);
        TaskListStore.Save(sandbox, list);
    }

    private Sandbox NewSandboxMetadata(SandboxContext sandbox, Timestamp updatedAt) => new()
    {
        SandboxId = sandbox.Id.Value,
        Sandboxer = sandboxer,
        Runtime = new Sandbox.Types.Runtime { Name = runtimeName },
        Labels = { Conversions.Copy(sandbox.Spec.Labels) },
        UpdatedAt = updatedAt,
    };

    private static string BundleFor(SandboxContext sandbox, string containerId) =>
        sandbox.ControllerData.TryGetValue(BundleRootKey, out var root)
            ? Path.Combine(root, containerId)
            : $"{KuasarGuestStateDir}/{containerId}";

    private static void CheckEcho(string echoed, string sandboxId)
    {
        if (echoed.Length > 0 && echoed != sandboxId)
        {
            throw IsolaException.FailedPrecondition(
                $"sandbox '{sandboxId}': the sandboxer answered for sandbox '{echoed}': it speaks the other Sandbox API generation (set Api to v0 or auto)");
        }
    }

    /// <summary>Every v1 server reports the Task API version with the address; a v0 server's answer decoded as v1
    /// has an address but no version (v0 has no field 6/9), so this is where a wrong generation shows.</summary>
    private static void CheckVersion(uint version, string address, SandboxId sandboxId, string operation)
    {
        if (version == 0)
        {
            throw IsolaException.FailedPrecondition(
                $"sandbox '{sandboxId}': {operation} returned address '{address}' without a Task API version: the sandboxer speaks the old (v0) Sandbox API (set Api to v0 or auto)");
        }
    }
}
