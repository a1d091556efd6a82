using Grpc.Core;
using Isola.Controllers;
using Isola.Plugins.Sandboxer.Configuration;
using Isola.Plugins.Sandboxer.Transport;
using Isola.Plugins.Sandboxer.Wire;
using Microsoft.Extensions.Logging;

namespace Isola.Plugins.Sandboxer;

/// <summary>
/// Drives sandboxes through a Sandbox API server (Kuasar's sandboxers, <c>isola serve</c>). Every call but Wait
/// carries a gRPC deadline of the configured Timeout; every failure names the socket and the sandbox.
/// </summary>
internal sealed class SandboxerController : ISandboxController, IReportsRuntimeDetails
{
    private readonly SandboxerOptions _options;
    private readonly SandboxerEndpoint _endpoint;
    private readonly ILogger _logger;
    private readonly V0GenerationClient _v0;
    private readonly V1GenerationClient _v1;

    public SandboxerController(SandboxerOptions options, SandboxerEndpoint endpoint, string runtimeName, ILogger logger)
    {
        _options = options;
        _endpoint = endpoint;
        _logger = logger;
        _v0 = new V0GenerationClient(new SandboxApi.V0.Controller.ControllerClient(endpoint.Invoker), options.Sandboxer);
        _v1 = new V1GenerationClient(new SandboxApi.V1.Controller.ControllerClient(endpoint.Invoker), options.Sandboxer, runtimeName);
    }

    /// <inheritdoc />
    public IReadOnlyDictionary<string, string> Details => new Dictionary<string, string>
    {
        ["address"] = "unix://" + _endpoint.SocketPath,
        ["sandboxer"] = _options.Sandboxer,
        ["api"] = _endpoint.Describe(_options.Api),
    };

    /// <summary>The ControllerData key set when Create failed before any connection to the sandboxer was made.</summary>
    internal const string NeverSentKey = "sandboxer.create-never-sent";

    public async Task CreateAsync(SandboxContext sandbox, CancellationToken cancellationToken)
    {
        sandbox.ControllerData.Remove(NeverSentKey);
        try
        {
            await InvokeAsync(sandbox, "Create", static (c, s, o) => c.CreateAsync(s, o), cancellationToken).ConfigureAwait(false);
        }
        catch (IsolaException e) when (RpcErrors.NeverConnected(e))
        {
            // The host rolls a failed Create back with Shutdown, and keeps the record (and the name) until Shutdown
            // succeeds. The sandboxer never saw this sandbox, so that Shutdown must not wait for it to come back.
            // Only a connect that failed proves it: after a deadline or a reset, the Create may have been received.
            sandbox.ControllerData[NeverSentKey] = "true";
            throw;
        }
    }

    public Task<ControllerStartResult> StartAsync(SandboxContext sandbox, CancellationToken cancellationToken) =>
        InvokeAsync(sandbox, "Start", static (c, s, o) => c.StartAsync(s, o), cancellationToken);

    public Task<PlatformInfo> PlatformAsync(SandboxContext sandbox, CancellationToken cancellationToken) =>
        InvokeAsync(sandbox, "Platform", static (c, s, o) => c.PlatformAsync(s, o), cancellationToken);

    public Task<PrepareResult> PrepareAsync(SandboxContext sandbox, PrepareRequest request, CancellationToken cancellationToken) =>
        InvokeAsync(sandbox, "Prepare container '" + request.ContainerId + "' in", (c, s, o) => c.PrepareAsync(s, request, o), cancellationToken);

    public Task PurgeAsync(SandboxContext sandbox, PurgeRequest request, CancellationToken cancellationToken) =>
        InvokeAsync(sandbox, "Purge container '" + request.ContainerId + "' from", (c, s, o) => c.PurgeAsync(s, request, o), cancellationToken);

    public Task UpdateResourcesAsync(SandboxContext sandbox, UpdateResourcesRequest request, CancellationToken cancellationToken) =>
        InvokeAsync(sandbox, "UpdateResources of", (c, s, o) => c.UpdateResourcesAsync(s, request, o), cancellationToken);

    public async Task StopAsync(SandboxContext sandbox, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var seconds = Conversions.TimeoutSeconds(timeout);
        try
        {
            await InvokeAsync(sandbox, "Stop", (c, s, o) => c.StopAsync(s, seconds, o), cancellationToken).ConfigureAwait(false);
        }
        catch (IsolaException e) when (IsolaException.IsNotFound(e))
        {
            _logger.LogDebug("Stop of sandbox {Sandbox}: already gone at {Socket}", sandbox.Id, _endpoint.SocketPath);
        }
    }

    public Task<ExitStatus> WaitAsync(SandboxContext sandbox, CancellationToken cancellationToken) =>
        InvokeAsync(sandbox, "Wait for", static (c, s, o) => c.WaitAsync(s, o), cancellationToken, longRunning: true);

    public Task<ControllerStatus> StatusAsync(SandboxContext sandbox, bool verbose, CancellationToken cancellationToken) =>
        InvokeAsync(sandbox, "Status of", (c, s, o) => c.StatusAsync(s, verbose, o), cancellationToken);

    public async Task ShutdownAsync(SandboxContext sandbox, CancellationToken cancellationToken)
    {
        if (sandbox.ControllerData.ContainsKey(NeverSentKey))
        {
            _logger.LogDebug("Shutdown of sandbox {Sandbox}: its Create never reached {Socket}; nothing to release", sandbox.Id, _endpoint.SocketPath);
            return;
        }

        try
        {
            await InvokeAsync(sandbox, "Shutdown", static (c, s, o) => c.ShutdownAsync(s, o), cancellationToken).ConfigureAwait(false);
        }
        catch (IsolaException e) when (IsolaException.IsNotFound(e))
        {
            _logger.LogDebug("Shutdown of sandbox {Sandbox}: already gone at {Socket}", sandbox.Id, _endpoint.SocketPath);
        }
    }

    private async Task InvokeAsync(SandboxContext sandbox, string operation,
        Func<IGenerationClient, SandboxContext, CallOptions, Task> call, CancellationToken cancellationToken, bool longRunning = false)
    {
        var deadline = DateTime.UtcNow + _options.Timeout;
        try
        {
            var client = KnownClient() ?? await DetectAsync(sandbox.Id.Value, new CallOptions(deadline: deadline, cancellationToken: cancellationToken))
                .ConfigureAwait(false);
            await call(client, sandbox, new CallOptions(deadline: longRunning ? null : deadline, cancellationToken: cancellationToken))
                .ConfigureAwait(false);
        }
        catch (RpcException e)
        {
            throw Translate(e, operation, sandbox.Id.Value, cancellationToken);
        }
        catch (IsolaException e) when (!e.Message.Contains(_endpoint.SocketPath, StringComparison.Ordinal))
        {
            // A protocol violation found in an answer (wrong generation, unknown state): name the peer too.
            throw new IsolaException(e.Code, $"sandboxer {_endpoint.SocketPath}: {e.Message}", e);
        }
    }

    private async Task<T> InvokeAsync<T>(SandboxContext sandbox, string operation,
        Func<IGenerationClient, SandboxContext, CallOptions, Task<T>> call, CancellationToken cancellationToken, bool longRunning = false)
    {
        var deadline = DateTime.UtcNow + _options.Timeout;
        try
        {
            var client = KnownClient() ?? await DetectAsync(sandbox.Id.Value, new CallOptions(deadline: deadline, cancellationToken: cancellationToken))
                .ConfigureAwait(false);
            return await call(client, sandbox, new CallOptions(deadline: longRunning ? null : deadline, cancellationToken: cancellationToken))
                .ConfigureAwait(false);
        }
        catch (RpcException e)
        {
            throw Translate(e, operation, sandbox.Id.Value, cancellationToken);
        }
        catch (IsolaException e) when (!e.Message.Contains(_endpoint.SocketPath, StringComparison.Ordinal))
        {
            // A protocol violation found in an answer (wrong generation, unknown state): name the peer too.
            throw new IsolaException(e.Code, $"sandboxer {_endpoint.SocketPath}: {e.Message}", e);
        }
    }

    /// <summary>The caller's own cancellation stays a cancellation; everything else becomes a one-line IsolaException.</summary>
    private Exception Translate(RpcException e, string operation, string sandboxId, CancellationToken cancellationToken) =>
        e.StatusCode == StatusCode.Cancelled && cancellationToken.IsCancellationRequested
            ? new OperationCanceledException($"{operation} sandbox '{sandboxId}' was cancelled", e, cancellationToken)
            : RpcErrors.Map(e, _endpoint.SocketPath, operation, sandboxId, _options.Timeout);

    /// <summary>The generation client when it is configured or already detected; null until the first probe.</summary>
    private IGenerationClient? KnownClient() => (_options.Api, _endpoint.Detected) switch
    {
        (ApiSelection.V0, _) or (ApiSelection.Auto, SandboxApiGeneration.V0) => _v0,
        (ApiSelection.V1, _) or (ApiSelection.Auto, SandboxApiGeneration.V1) => _v1,
        _ => null,
    };

    private async Task<IGenerationClient> DetectAsync(string sandboxId, CallOptions probeOptions)
    {
        var generation = await _endpoint.DetectAsync(sandboxId, _options.Sandboxer, probeOptions).ConfigureAwait(false);
        _logger.LogInformation("Sandbox API at {Socket} speaks {Generation}", _endpoint.SocketPath, generation);
        return generation == SandboxApiGeneration.V1 ? _v1 : _v0;
    }
}
