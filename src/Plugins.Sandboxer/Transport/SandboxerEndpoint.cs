using Grpc.Core;
using Grpc.Net.Client;
using Isola.Plugins.Sandboxer.Configuration;

namespace Isola.Plugins.Sandboxer.Transport;

/// <summary>
/// One Sandbox API server: its channel (shared by every runtime handler that names the same socket) and, once
/// probed, the wire generation it speaks.
/// </summary>
internal sealed class SandboxerEndpoint : IDisposable
{
    private readonly SemaphoreSlim _probeLock = new(1, 1);
    private SandboxApiGeneration? _detected;

    /// <summary>Opens a channel to <paramref name="socketPath"/> (connections are made lazily, per call).</summary>
    public SandboxerEndpoint(string socketPath)
    {
        SocketPath = socketPath;
        Channel = UnixSocketChannel.Create(socketPath);
        Invoker = Channel.CreateCallInvoker();
    }

    /// <summary>The server's socket.</summary>
    public string SocketPath { get; }

    /// <summary>The gRPC channel.</summary>
    public GrpcChannel Channel { get; }

    /// <summary>The call invoker both generations' clients share.</summary>
    public CallInvoker Invoker { get; }

    /// <summary>The generation found by the last successful probe, or null before it.</summary>
    public SandboxApiGeneration? Detected => _detected;

    /// <summary>
    /// The generation this server speaks, probing it once: Metrics exists only in v1 and is side-effect free, so a
    /// v1 server answers it (for any id, known or not) while a v0 server answers Unimplemented. Platform would tell
    /// nothing: both generations answer it without looking the sandbox up. A failed probe (server unreachable) is
    /// not remembered, so the next call probes again.
    /// </summary>
    /// <param name="sandboxId">The sandbox the call that needs the answer is about.</param>
    /// <param name="sandboxer">The sandboxer name the probe carries, as every other request does: a server that
    /// routes by it (containerd's proxy, Kuasar) would otherwise refuse or misroute the probe.</param>
    /// <param name="options">The probe's deadline and cancellation.</param>
    public async ValueTask<SandboxApiGeneration> DetectAsync(string sandboxId, string sandboxer, CallOptions options)
    {
        if (_detected is { } known)
        {
            return known;
        }

        await _probeLock.WaitAsync(options.CancellationToken).ConfigureAwait(false);
        try
        {
            if (_detected is { } raced)
            {
                return raced;
            }

            var probe = new SandboxApi.V1.Controller.ControllerClient(Invoker);
            try
            {
                await probe.MetricsAsync(new SandboxApi.V1.ControllerMetricsRequest { SandboxId = sandboxId, Sandboxer = sandboxer }, options).ConfigureAwait(false);
                _detected = SandboxApiGeneration.V1;
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Unimplemented)
            {
                _detected = SandboxApiGeneration.V0;
            }
            catch (RpcException e) when (e.StatusCode is not (StatusCode.Unavailable or StatusCode.DeadlineExceeded or StatusCode.Cancelled
                                             or StatusCode.Internal or StatusCode.Unknown))
            {
                // NotFound, InvalidArgument and the like come from a Metrics handler: the method exists.
                _detected = SandboxApiGeneration.V1;
            }

            return _detected.Value;
        }
        finally
        {
            _probeLock.Release();
        }
    }

    /// <summary>What <c>isola runtimes ls</c> shows about the API selection.</summary>
    public string Describe(ApiSelection selection) => selection switch
    {
        ApiSelection.V0 => "v0 (configured)",
        ApiSelection.V1 => "v1 (configured)",
        _ => _detected switch
        {
            SandboxApiGeneration.V0 => "v0 (detected)",
            SandboxApiGeneration.V1 => "v1 (detected)",
            _ => "auto (not yet detected)",
        },
    };

    /// <inheritdoc />
    public void Dispose()
    {
        Channel.Dispose();
        _probeLock.Dispose();
    }
}
