using Google.Protobuf;
using Isola.TaskApi.Protos.Runc;

namespace Isola.Plugins.Shim.Controller;

/// <summary>
/// The options of the runc shim's Task Create (containerd.runc.v1.Options), which name the OCI runtime binary (runc,
/// crun, a path) a task runs under. The shim keeps what Create gave it in the bundle itself (options.json and runtime,
/// read back by `shim delete`), so Isola writes no such file: the pause's Create and, through PrepareResult.Options and
/// the host, every container's Create carry the pod's runtime.
/// </summary>
internal static class RuncShimOptions
{
    /// <summary>The type url containerd gives runc options in CreateTaskRequest.options.</summary>
    public const string TypeUrl = "containerd.runc.v1.Options";

    /// <summary>The options that run a task under <paramref name="runtime"/>, as a protobuf Any's type url and bytes.</summary>
    public static (string TypeUrl, byte[] Value) For(string runtime) => (TypeUrl, new Options { BinaryName = runtime }.ToByteArray());
}
