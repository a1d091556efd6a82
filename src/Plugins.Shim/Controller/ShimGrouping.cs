namespace Isola.Plugins.Shim.Controller;

/// <summary>Which pods share a containerd-shim-runc-v2 process (<see cref="ShimControllerOptions.ShimGrouping"/>).</summary>
internal enum ShimGrouping
{
    /// <summary>One shim per pod: its own socket, its own process.</summary>
    Pod,

    /// <summary>One shim for every pod of the runtime handler and state root.</summary>
    Runtime,
}
