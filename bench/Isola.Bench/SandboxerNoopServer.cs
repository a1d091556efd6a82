using System.Collections.Concurrent;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Isola.SandboxApi;
using Isola.SandboxApi.V1;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Isola.Bench;

/// <summary>A Sandbox API (v1) server that does nothing but answer, so a benchmark measures the client side.
/// Wait blocks until Stop or Shutdown of that sandbox, as a real sandboxer's does.</summary>
internal sealed class SandboxerNoopServer : Controller.ControllerBase
{
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _running = new();

    public static async Task<WebApplication> StartAsync(string socketPath)
    {
        File.Delete(socketPath);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Limits.Http2.MaxStreamsPerConnection = 4096;
            k.ListenUnixSocket(socketPath, o => o.Protocols = HttpProtocols.Http2);
        });
        builder.Services.AddGrpc();
        builder.Services.AddSingleton<SandboxerNoopServer>();
        var app = builder.Build();
        app.MapGrpcService<SandboxerNoopServer>();
        await app.StartAsync();
        return app;
    }

    public override Task<ControllerCreateResponse> Create(ControllerCreateRequest request, ServerCallContext context)
    {
        _running.TryAdd(request.SandboxId, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        return Task.FromResult(new ControllerCreateResponse { SandboxId = request.SandboxId });
    }

    public override Task<ControllerStartResponse> Start(ControllerStartRequest request, ServerCallContext context) =>
        Task.FromResult(new ControllerStartResponse
        {
            SandboxId = request.SandboxId, Pid = 1, Address = "ttrpc+unix:///run/noop.sock", Version = 2,
            CreatedAt = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow),
        });

    public override Task<ControllerPlatformResponse> Platform(ControllerPlatformRequest request, ServerCallContext context) =>
        Task.FromResult(new ControllerPlatformResponse { Platform = new SandboxApi.Types.Platform { Os = "linux", Architecture = "amd64" } });

    public override Task<ControllerStatusResponse> Status(ControllerStatusRequest request, ServerCallContext context) =>
        Task.FromResult(new ControllerStatusResponse
        {
            SandboxId = request.SandboxId, Pid = 1, Address = "ttrpc+unix:///run/noop.sock", Version = 2,
            State = _running.ContainsKey(request.SandboxId) ? SandboxStates.Ready : SandboxStates.NotReady,
        });

    public override Task<ControllerStopResponse> Stop(ControllerStopRequest request, ServerCallContext context)
    {
        if (_running.TryGetValue(request.SandboxId, out var exited))
        {
            exited.TrySetResult();
        }

        return Task.FromResult(new ControllerStopResponse());
    }

    public override async Task<ControllerWaitResponse> Wait(ControllerWaitRequest request, ServerCallContext context)
    {
        if (_running.TryGetValue(request.SandboxId, out var exited))
        {
            await exited.Task.WaitAsync(context.CancellationToken);
        }

        return new ControllerWaitResponse { ExitStatus = 0, ExitedAt = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow) };
    }

    public override Task<ControllerShutdownResponse> Shutdown(ControllerShutdownRequest request, ServerCallContext context)
    {
        if (_running.TryRemove(request.SandboxId, out var exited))
        {
            exited.TrySetResult();
        }

        return Task.FromResult(new ControllerShutdownResponse());
    }

    public override Task<ControllerMetricsResponse> Metrics(ControllerMetricsRequest request, ServerCallContext context) =>
        Task.FromResult(new ControllerMetricsResponse());

    public override Task<ControllerUpdateResponse> Update(ControllerUpdateRequest request, ServerCallContext context) =>
        Task.FromResult(new ControllerUpdateResponse());
}
