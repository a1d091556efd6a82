using System.Globalization;
using Isola.Controllers;
using Isola.Executors;
using Isola.Plugins.Shim.Executor;
using Isola.Ttrpc.Client;
using Microsoft.Extensions.Logging;
using Keys = Isola.Plugins.Shim.Controller.ControllerDataKeys;

namespace Isola.Plugins.Shim.Controller;

/// <summary>The Task API connection to each sandbox's shim, and re-attaching its log after a host restart.</summary>
internal sealed partial class ShimController
{
    private Task<TaskServiceClient> ClientAsync(SandboxContext sandbox, CancellationToken cancellationToken)
    {
        if (!sandbox.ControllerData.TryGetValue(Keys.Address, out var address))
        {
            throw IsolaException.FailedPrecondition($"sandbox '{sandbox.Id}' has not been started (no shim address)");
        }

        var version = uint.TryParse(Get(sandbox.ControllerData, Keys.Version), CultureInfo.InvariantCulture, out var v) ? v : 2;
        return ClientAsync(sandbox, address, version, cancellationToken);
    }

    // An explicit address: teardown may know it only from the bundle (ShimAddressOf).
    private async Task<TaskServiceClient> ClientAsync(SandboxContext sandbox, string address, uint version, CancellationToken cancellationToken) =>
        await _clients.GetAsync(sandbox.Id, address, () => ConnectAsync(sandbox, address, version), cancellationToken).ConfigureAwait(false);

    private async Task<TaskServiceClient> ConnectAsync(SandboxContext sandbox, string address, uint version)
    {
        var endpoint = TaskEndpoint.Parse(address, version);
        var ns = Get(sandbox.ControllerData, Keys.Namespace, _settings.Namespace);
        TtrpcClient ttrpc;
        try
        {
            // Shared by every caller waiting for this connection, so bounded by its own timeout, not one caller's token.
            using var timeout = new CancellationTokenSource(TaskCallTimeout);
            ttrpc = await TtrpcClient.ConnectAsync(address, new TtrpcClientOptions
            {
                Metadata = new Dictionary<string, string> { [TtrpcClientOptions.NamespaceKey] = ns },
                DefaultTimeout = TaskCallTimeout,
            }, timeout.Token).ConfigureAwait(false);
        }
        catch (IsolaException e)
        {
            throw new IsolaException(e.Code, $"sandbox '{sandbox.Id}': shim at {address} unreachable: {e.Message}", e);
        }
        catch (OperationCanceledException e)
        {
            throw IsolaException.Unavailable($"sandbox '{sandbox.Id}': shim at {address} did not accept a connection within {TaskCallTimeout.TotalSeconds:F0} s", e);
        }

        if (!sandbox.ControllerData.ContainsKey(Keys.PausePid) || !_logs.IsAttached(sandbox.Id))
        {
            ReattachLog(sandbox);
        }

        return new TaskServiceClient(ttrpc, endpoint);
    }

    // After a host restart the shim still writes to its bundle's FIFO; resume copying it.
    private void ReattachLog(SandboxContext sandbox)
    {
        var fifo = Path.Combine(BundleOf(sandbox), "log");
        if (File.Exists(fifo) && !_logs.IsAttached(sandbox.Id))
        {
            try
            {
                _logs.Attach(sandbox.Id, fifo, Path.Combine(sandbox.StateDirectory, ShimLogFile), reuse: true);
            }
            catch (IsolaException e)
            {
                _logger.LogWarning("sandbox {Id}: {Error}", sandbox.Id, e.Message);
            }
        }
    }

    private Task ForgetClientAsync(string sandboxId) => _clients.ForgetAsync(sandboxId);
}
