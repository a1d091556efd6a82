using System.Globalization;
using Isola.Controllers;
using Isola.Executors;
using Microsoft.Extensions.Logging;
using Keys = Isola.Plugins.Shim.Controller.ControllerDataKeys;

namespace Isola.Plugins.Shim.Controller;

/// <summary>The Task API connection to each sandbox's shim, and re-attaching its log after a host restart.</summary>
internal sealed partial class ShimController
{
    private Task<ITaskClient> ClientAsync(SandboxContext sandbox, CancellationToken cancellationToken)
    {
        if (!sandbox.ControllerData.TryGetValue(Keys.Address, out var address))
        {
            throw IsolaException.FailedPrecondition($"sandbox '{sandbox.Id}' has not been started (no shim address)");
        }

        var version = uint.TryParse(Get(sandbox.ControllerData, Keys.Version), CultureInfo.InvariantCulture, out var v) ? v : 2;
        return ClientAsync(sandbox, address, version, cancellationToken);
    }

    // An explicit address: teardown may know it only from the bundle (ShimAddressOf).
    private async Task<ITaskClient> ClientAsync(SandboxContext sandbox, string address, uint version, CancellationToken cancellationToken) =>
        await _clients.GetAsync(sandbox.Id.Value, address, () => ConnectAsync(sandbox, address, version), cancellationToken).ConfigureAwait(false);

    // The pause is a task like any container: the controller drives it through the executor the host registered for
    // the shim's address (the Task API plugin's), so one Task API client serves both. No namespace metadata: the shim
    // keeps the namespace it was started with (settings.Namespace).
    private async Task<ITaskClient> ConnectAsync(SandboxContext sandbox, string address, uint version)
    {
        var endpoint = TaskEndpoint.Parse(address, version);
        ITaskExecutor executor;
        try
        {
            executor = _services.GetExecutor(endpoint.Scheme);
        }
        catch (IsolaException e) when (e.Code == IsolaErrorCode.NotFound)
        {
            // Not NotFound: the host would take that for a sandbox already gone and forget a pod that still runs.
            throw new IsolaException(IsolaErrorCode.FailedPrecondition, $"sandbox '{sandbox.Id}': no executor serves the shim's task address {address}; " +
                $"the shim controller drives its pause through the Task API plugin (Isola.Plugins.TaskApi): {e.Message}", e);
        }

        ITaskClient client;
        try
        {
            // Shared by every caller waiting for this connection, so bounded by its own timeout, not one caller's token.
            using var timeout = new CancellationTokenSource(TaskCallTimeout);
            client = await executor.ConnectAsync(endpoint, timeout.Token).ConfigureAwait(false);
        }
        catch (IsolaException e)
        {
            throw new IsolaException(e.Code, $"sandbox '{sandbox.Id}': shim at {address} unreachable: {e.Message}", e);
        }
        catch (OperationCanceledException e)
        {
            throw IsolaException.Unavailable($"sandbox '{sandbox.Id}': shim at {address} did not accept a connection within {TaskCallTimeout.TotalSeconds:F0} s", e);
        }

        if (!sandbox.ControllerData.ContainsKey(Keys.PausePid) || !_logs.IsAttached(sandbox.Id.Value))
        {
            ReattachLog(sandbox);
        }

        return client;
    }

    // After a host restart the shim still writes to its bundle's FIFO; resume copying it.
    private void ReattachLog(SandboxContext sandbox)
    {
        if (GroupOf(sandbox) is { } group)
        {
            var groupFifo = Path.Combine(GroupDirectoryOf(sandbox), "log");
            if (File.Exists(groupFifo) && !_logs.IsAttached(GroupLogKey(group)))
            {
                _logs.Attach(GroupLogKey(group), groupFifo, Path.Combine(GroupDirectoryOf(sandbox), ShimLogFile), reuse: true);
            }

            return;
        }

        var fifo = Path.Combine(BundleOf(sandbox), "log");
        if (File.Exists(fifo) && !_logs.IsAttached(sandbox.Id.Value))
        {
            try
            {
                _logs.Attach(sandbox.Id.Value, fifo, Path.Combine(sandbox.StateDirectory, ShimLogFile), reuse: true);
            }
            catch (IsolaException e)
            {
                _logger.LogWarning("sandbox {Id}: {Error}", sandbox.Id.Value, e.Message);
            }
        }
    }

    private Task ForgetClientAsync(string sandboxId) => _clients.ForgetAsync(sandboxId);
}
