namespace Isola.Executors;

/// <summary>
/// Runs containers inside started sandboxes by talking to their task address. One executor serves one or more
/// address schemes (for example "ttrpc+unix", "unix", "ttrpc+vsock"); each scheme may be registered only once.
/// </summary>
public interface ITaskExecutor
{
    /// <summary>The executor's name, for listings and errors.</summary>
    string Name { get; }

    /// <summary>The task-address schemes it serves, lower-case.</summary>
    IReadOnlyCollection<string> Schemes { get; }

    /// <summary>Connects to a task service. The client may be cached and shared by the caller; it is thread-safe.
    /// Throws <see cref="IsolaErrorCode.Unavailable"/> naming the address when it cannot connect.</summary>
    Task<ITaskClient> ConnectAsync(TaskEndpoint endpoint, CancellationToken cancellationToken);
}
