using Isola.Executors;
using Isola.Ttrpc;
using Isola.Ttrpc.Client;

namespace Isola.Plugins.TaskApi;

/// <summary>
/// Runs containers through the Task API (containerd.task.v2 / v3) over ttrpc, for containerd shims (Unix sockets) and
/// VM agents (vsock, hybrid vsock), whichever controller started them. One connection per <see cref="ConnectAsync"/>;
/// callers cache the client.
/// </summary>
internal sealed class TtrpcTaskExecutor : ITaskExecutor
{
    private static readonly string[] SupportedSchemes = ["ttrpc+unix", "unix", "ttrpc+vsock", "vsock", "ttrpc+hvsock", "hvsock"];

    private readonly TimeSpan? _defaultTimeout;

    /// <param name="defaultTimeout">Deadline of every call but Wait that has no tighter one (sent as timeout_nano).</param>
    public TtrpcTaskExecutor(TimeSpan? defaultTimeout = null)
    {
        _defaultTimeout = defaultTimeout;
    }

    public string Name => "ttrpc-task";

    public IReadOnlyCollection<string> Schemes => SupportedSchemes;

    public async Task<ITaskClient> ConnectAsync(TaskEndpoint endpoint, CancellationToken cancellationToken)
    {
        if (!SupportedSchemes.Contains(endpoint.Scheme))
        {
            throw IsolaException.InvalidArgument($"task address '{endpoint.Address}': scheme '{endpoint.Scheme}' is not served by the {Name} executor");
        }

        TaskServiceClient.ServiceName(endpoint.Version); // an unsupported version fails before dialling
        // No namespace metadata: a runc shim keeps the namespace it was started with, and a metadata value that
        // differed would move the task's runc state elsewhere.
        var options = new TtrpcClientOptions { DefaultTimeout = _defaultTimeout };
        var address = endpoint.Scheme == "unix" && !endpoint.Address.Contains("://", StringComparison.Ordinal)
            ? "unix://" + endpoint.Target
            : endpoint.Address;
        try
        {
            var client = await TtrpcClient.ConnectAsync(address, options, cancellationToken).ConfigureAwait(false);
            return new TaskServiceClient(client, endpoint);
        }
        catch (TtrpcException e)
        {
            throw e.ToIsola();
        }
    }
}
