using Grpc.Core;
using Isola.Controllers;
using Isola.Plugins.Sandboxer.Transport;

namespace Isola.Plugins.Sandboxer.Wire;

/// <summary>The controller operations in one wire generation. Calls throw <see cref="RpcException"/> (mapped to
/// <see cref="IsolaException"/> by the controller) or <see cref="IsolaException"/> for protocol violations.</summary>
internal interface IGenerationClient
{
    /// <summary>Which generation this speaks.</summary>
    SandboxApiGeneration Generation { get; }

    /// <summary>Create.</summary>
    Task CreateAsync(SandboxContext sandbox, CallOptions options);

    /// <summary>Start.</summary>
    Task<ControllerStartResult> StartAsync(SandboxContext sandbox, CallOptions options);

    /// <summary>Platform.</summary>
    Task<PlatformInfo> PlatformAsync(SandboxContext sandbox, CallOptions options);

    /// <summary>Registers a container or exec process (v0: Prepare; v1: Update of the task list).</summary>
    Task<PrepareResult> PrepareAsync(SandboxContext sandbox, PrepareRequest request, CallOptions options);

    /// <summary>Unregisters a container or exec process (v0: Purge; v1: Update of the task list).</summary>
    Task PurgeAsync(SandboxContext sandbox, PurgeRequest request, CallOptions options);

    /// <summary>Changes resources (v0: UpdateResources; v1: Update of the container's spec in the task list).</summary>
    Task UpdateResourcesAsync(SandboxContext sandbox, UpdateResourcesRequest request, CallOptions options);

    /// <summary>Stop with a whole-second timeout.</summary>
    Task StopAsync(SandboxContext sandbox, uint timeoutSeconds, CallOptions options);

    /// <summary>Wait (long-running).</summary>
    Task<ExitStatus> WaitAsync(SandboxContext sandbox, CallOptions options);

    /// <summary>Status.</summary>
    Task<ControllerStatus> StatusAsync(SandboxContext sandbox, bool verbose, CallOptions options);

    /// <summary>Shutdown.</summary>
    Task ShutdownAsync(SandboxContext sandbox, CallOptions options);
}
