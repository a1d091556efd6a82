using System.Text.Json;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Isola.SandboxApi;
using Isola.SandboxApi.Tasks;
using Isola.SandboxApi.Types;
using Isola.SandboxApi.V1;
using Isola.Server.Tasks;
using Microsoft.Extensions.Logging;

namespace Isola.Server.Services;

/// <summary>
/// The v1 Sandbox Controller served on top of <see cref="IIsola"/>: each call is the matching host operation
/// (Create -> ISandboxes.CreateAsync, Start -> ISandbox.StartAsync, ...), so every runtime handler Isola has (shim,
/// vm, even a remote sandboxer) becomes reachable by containerd 2.x and iSulad. The request's sandboxer field names
/// the runtime handler. Stop and Shutdown of an unknown sandbox succeed, as containerd and Kuasar expect.
/// </summary>
internal sealed class ControllerService(IIsola isola, SandboxApiServerOptions options, TaskBundleWriter bundles,
    GuestTaskStager guestTasks, ILogger<ControllerService> logger) : Controller.ControllerBase
{
    /// <summary>The Start label announcing where container bundles are, as the task service sees them: written by
    /// <see cref="TaskBundleWriter"/> on the host, or staged in a VM guest by <see cref="GuestTaskStager"/>.</summary>
    public const string BundleRootLabel = "io.isola.sandbox-api/bundle-root";

    public override Task<ControllerCreateResponse> Create(ControllerCreateRequest request, ServerCallContext context) =>
        Guard(request.SandboxId, async id =>
        {
            var spec = SandboxSpecMapper.ToSpec(request, options.DefaultRuntime);
            var sandbox = await isola.Sandboxes.CreateAsync(spec, context.CancellationToken).ConfigureAwait(false);
            logger.LogInformation("sandbox {Sandbox} created on runtime {Runtime}", sandbox.Id, sandbox.Info.Runtime);
            return new ControllerCreateResponse { SandboxId = sandbox.Id.Value };
        });

    public override Task<ControllerStartResponse> Start(ControllerStartRequest request, ServerCallContext context) =>
        Guard(request.SandboxId, async id =>
        {
            var sandbox = await isola.Sandboxes.GetAsync(id.Value, context.CancellationToken).ConfigureAwait(false);
            await sandbox.StartAsync(context.CancellationToken).ConfigureAwait(false);
            var info = sandbox.Info;
            return new ControllerStartResponse
            {
                SandboxId = info.Id.Value,
                Pid = info.Pid,
                CreatedAt = Timestamp.FromDateTimeOffset(info.StartedAt ?? info.CreatedAt),
                Address = info.TaskAddress,
                Version = info.TaskApiVersion,
                Labels = { [BundleRootLabel] = info.GuestBundleRoot ?? bundles.SandboxRoot(info.Id) },
            };
        });

    public override Task<ControllerPlatformResponse> Platform(ControllerPlatformRequest request, ServerCallContext context) =>
        Guard(request.SandboxId, async id =>
        {
            var sandbox = await isola.Sandboxes.GetAsync(id.Value, context.CancellationToken).ConfigureAwait(false);
            var p = await sandbox.PlatformAsync(context.CancellationToken).ConfigureAwait(false);
            return new ControllerPlatformResponse { Platform = new Platform { Os = p.Os, Architecture = p.Architecture, Variant = p.Variant } };
        });

    public override Task<ControllerStopResponse> Stop(ControllerStopRequest request, ServerCallContext context) =>
        Guard(request.SandboxId, async id =>
        {
            try
            {
                var sandbox = await isola.Sandboxes.GetAsync(id.Value, context.CancellationToken).ConfigureAwait(false);
                await sandbox.StopAsync(TimeSpan.FromSeconds(request.TimeoutSecs), context.CancellationToken).ConfigureAwait(false);
            }
            catch (IsolaException e) when (IsolaException.IsNotFound(e))
            {
                // Already gone: done.
            }

            return new ControllerStopResponse();
        });

    public override Task<ControllerWaitResponse> Wait(ControllerWaitRequest request, ServerCallContext context) =>
        Guard(request.SandboxId, async id =>
        {
            var sandbox = await isola.Sandboxes.GetAsync(id.Value, context.CancellationToken).ConfigureAwait(false);
            var exit = await sandbox.WaitAsync(context.CancellationToken).ConfigureAwait(false);
            return new ControllerWaitResponse { ExitStatus = exit.Code, ExitedAt = Timestamp.FromDateTimeOffset(exit.ExitedAt) };
        });

    public override Task<ControllerStatusResponse> Status(ControllerStatusRequest request, ServerCallContext context) =>
        Guard(request.SandboxId, async id =>
        {
            var sandbox = await isola.Sandboxes.GetAsync(id.Value, context.CancellationToken).ConfigureAwait(false);
            var info = await sandbox.InspectAsync(context.CancellationToken).ConfigureAwait(false);
            var response = new ControllerStatusResponse
            {
                SandboxId = info.Id.Value,
                Pid = info.Pid,
                State = info.State == SandboxState.Ready ? SandboxStates.Ready : SandboxStates.NotReady,
                CreatedAt = Timestamp.FromDateTimeOffset(info.StartedAt ?? info.CreatedAt),
                Address = info.TaskAddress,
                Version = info.TaskApiVersion,
                Info = { ["isola.state"] = info.State.ToString(), ["isola.runtime"] = info.Runtime },
            };
            if (info.Exit is { } exit)
            {
                response.ExitedAt = Timestamp.FromDateTimeOffset(exit.ExitedAt);
            }

            if (request.Verbose)
            {
                response.Info["isola.controller"] = info.Controller;
                response.Info["isola.containers"] = info.Containers.Count.ToString(System.Globalization.CultureInfo.InvariantCulture);
            }

            return response;
        });

    public override Task<ControllerShutdownResponse> Shutdown(ControllerShutdownRequest request, ServerCallContext context) =>
        Guard(request.SandboxId, async id =>
        {
            try
            {
                var sandbox = await isola.Sandboxes.GetAsync(id.Value, context.CancellationToken).ConfigureAwait(false);
                await sandbox.RemoveAsync(context.CancellationToken).ConfigureAwait(false);
            }
            catch (IsolaException e) when (IsolaException.IsNotFound(e))
            {
                // Already gone: done.
            }

            guestTasks.Remove(id);
            bundles.Remove(id);
            return new ControllerShutdownResponse();
        });

    public override Task<ControllerMetricsResponse> Metrics(ControllerMetricsRequest request, ServerCallContext context) =>
        Guard(request.SandboxId, async id =>
        {
            var sandbox = await isola.Sandboxes.GetAsync(id.Value, context.CancellationToken).ConfigureAwait(false);
            return new ControllerMetricsResponse { Metrics = new Metric { Id = sandbox.Id.Value, Timestamp = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow) } };
        });

    public override Task<ControllerUpdateResponse> Update(ControllerUpdateRequest request, ServerCallContext context) =>
        Guard(request.SandboxId, async id =>
        {
            if (!request.Fields.Contains(TypeUrls.TasksField))
            {
                return new ControllerUpdateResponse();
            }

            var sandbox = await isola.Sandboxes.GetAsync(id.Value, context.CancellationToken).ConfigureAwait(false);
            if (sandbox.Info.State != SandboxState.Ready)
            {
                throw IsolaException.FailedPrecondition($"sandbox '{sandbox.Id}' is {sandbox.Info.State}, not Ready: cannot add or remove containers");
            }

            TaskResources list;
            try
            {
                var any = request.Sandbox?.Extensions.GetValueOrDefault(TypeUrls.TasksExtension);
                list = any is null ? new TaskResources() : TaskResources.Parse(any.Value.Span);
            }
            catch (JsonException e)
            {
                throw IsolaException.InvalidArgument($"sandbox '{sandbox.Id}': extensions.tasks is not a task list: {e.Message}");
            }

            if (sandbox.Info.GuestBundleRoot is not null)
            {
                await guestTasks.ApplyAsync(sandbox, list, context.CancellationToken).ConfigureAwait(false);
            }
            else
            {
                bundles.Apply(sandbox.Id, sandbox.Info.Pid, list);
            }

            return new ControllerUpdateResponse();
        });

    // The edge: a request's sandbox id is parsed here once, and what runs inside trusts it.
    private static async Task<T> Guard<T>(string sandboxId, Func<SandboxId, Task<T>> call)
    {
        if (!SandboxId.TryParse(sandboxId, out var id))
        {
            throw RpcStatus.InvalidArgument($"invalid sandbox id '{sandboxId}'");
        }

        try
        {
            return await call(id).ConfigureAwait(false);
        }
        catch (IsolaException e)
        {
            throw RpcStatus.From(e);
        }
    }
}
