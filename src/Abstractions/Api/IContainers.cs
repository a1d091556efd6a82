namespace Isola;

/// <summary>The containers of one sandbox.</summary>
public interface IContainers
{
    /// <summary>Prepares and creates a container, not started. Rolled back on failure.</summary>
    Task<IContainer> CreateAsync(ContainerSpec spec, CancellationToken cancellationToken = default);

    /// <summary>Creates and starts a container.</summary>
    Task<IContainer> RunAsync(ContainerSpec spec, CancellationToken cancellationToken = default);

    /// <summary>The container with that id; throws <see cref="IsolaErrorCode.NotFound"/> naming it and the sandbox.</summary>
    Task<IContainer> GetAsync(ContainerId id, CancellationToken cancellationToken = default);

    /// <summary>Snapshots of the sandbox's containers.</summary>
    Task<IReadOnlyList<ContainerInfo>> ListAsync(CancellationToken cancellationToken = default);
}
