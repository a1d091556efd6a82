using Grpc.Core;
using Isola.SandboxApi.V1;

namespace Isola.Plugins.Sandboxer.Tests.Kuasar;

/// <summary>A sandboxer that is hung: it accepts every call and never answers (until the caller gives up).</summary>
internal sealed class SilentController : Controller.ControllerBase
{
    public override async Task<ControllerMetricsResponse> Metrics(ControllerMetricsRequest request, ServerCallContext context)
    {
        await Task.Delay(Timeout.Infinite, context.CancellationToken);
        return new ControllerMetricsResponse();
    }

    public override async Task<ControllerCreateResponse> Create(ControllerCreateRequest request, ServerCallContext context)
    {
        await Task.Delay(Timeout.Infinite, context.CancellationToken);
        return new ControllerCreateResponse();
    }

    public override async Task<ControllerShutdownResponse> Shutdown(ControllerShutdownRequest request, ServerCallContext context)
    {
        await Task.Delay(Timeout.Infinite, context.CancellationToken);
        return new ControllerShutdownResponse();
    }

    public override async Task<ControllerStatusResponse> Status(ControllerStatusRequest request, ServerCallContext context)
    {
        await Task.Delay(Timeout.Infinite, context.CancellationToken);
        return new ControllerStatusResponse();
    }
}
