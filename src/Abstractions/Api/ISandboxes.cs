namespace Isola;

/// <summary>The sandboxes of a host. Ids and names are interchangeable wherever a method takes <c>idOrName</c>.</summary>
public interface ISandboxes
{
    /// <summary>Creates and starts a sandbox and returns it once Ready. On failure everything created is rolled back
    /// and the error names the sandbox and the endpoint involved.</summary>
    Task<ISandbox> RunAsync(SandboxSpec spec, CancellationToken cancellationToken = default);

    /// <summary>Creates a sandbox without starting it (state Created); start it with <see cref="ISandbox.StartAsync"/>.
    /// This is the Sandbox API's separate Create step; most callers want <see cref="RunAsync"/>.</summary>
    Task<ISandbox> CreateAsync(SandboxSpec spec, CancellationToken cancellationToken = default);

    /// <summary>The sandbox with that id or name; throws <see cref="IsolaErrorCode.NotFound"/> naming it.</summary>
    Task<ISandbox> GetAsync(string idOrName, CancellationToken cancellationToken = default);

    /// <summary>Snapshots of all sandboxes, including quarantined records' ids in <see cref="QuarantinedRecords"/>.</summary>
    Task<IReadOnlyList<SandboxInfo>> ListAsync(CancellationToken cancellationToken = default);

    /// <summary>State directories whose record could not be read, moved aside at load time (never deleted).</summary>
    IReadOnlyList<string> QuarantinedRecords { get; }
}
