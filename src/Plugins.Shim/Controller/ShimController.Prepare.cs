using System.Globalization;
using Isola.Controllers;
using Keys = Isola.Plugins.Shim.Controller.ControllerDataKeys;

namespace Isola.Plugins.Shim.Controller;

/// <summary>Container bundles: Prepare writes one from the host's OCI spec inside the pod's namespaces, Purge removes it.</summary>
internal sealed partial class ShimController
{
    public Task<PrepareResult> PrepareAsync(SandboxContext sandbox, PrepareRequest request, CancellationToken cancellationToken)
    {
        var bundle = ContainerBundleOf(sandbox, request.ContainerId.Value);
        if (request.ExecId is not null)
        {
            // An exec process runs in the container's existing bundle; its Process JSON goes straight to Task.Exec.
            return Task.FromResult(new PrepareResult(bundle, []) { Stdio = StdioRouting.Translate(request.Stdio, Logger) });
        }

        var rootfs = request.Container.Rootfs;
        if (string.IsNullOrEmpty(rootfs) || !Path.IsPathFullyQualified(rootfs) || !Directory.Exists(rootfs))
        {
            throw IsolaException.InvalidArgument($"container '{request.ContainerId}' in sandbox '{sandbox.Id}': rootfs '{rootfs}' is not an existing directory (absolute path)");
        }

        if (!sandbox.ControllerData.TryGetValue(Keys.PausePid, out var pidText) || !uint.TryParse(pidText, CultureInfo.InvariantCulture, out var pausePid))
        {
            throw IsolaException.FailedPrecondition($"sandbox '{sandbox.Id}' has no running pause process; start it before adding containers");
        }

        // The request's spec, edited in place and serialised once, here, into the bundle.
        var spec = request.OciSpec;
        var cgroup = sandbox.ControllerData.TryGetValue(Keys.CgroupsPath, out var c) ? c : $"{_options.CgroupParent}/{sandbox.Id}";
        ContainerBundle.Adjust(spec, sandbox.Id, request.ContainerId, pausePid, Path.GetFullPath(rootfs), request.Container.ReadOnlyRootfs, cgroup);
        try
        {
            Directory.CreateDirectory(bundle, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            File.WriteAllText(Path.Combine(bundle, "config.json"), spec.ToJsonString());
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TryDelete(bundle);
            throw IsolaException.Internal($"container '{request.ContainerId}': cannot write its bundle {bundle}: {e.Message}", e);
        }

        // The pod's OCI runtime (runc, crun, a path), which the host hands to the container's Task Create.
        return Task.FromResult(new PrepareResult(bundle, [])
        {
            Stdio = StdioRouting.Translate(request.Stdio, Logger),
            Options = RuncShimOptions.For(RuntimeOf(sandbox)),
        });
    }

    public Task PurgeAsync(SandboxContext sandbox, PurgeRequest request, CancellationToken cancellationToken)
    {
        if (request.ExecId is null)
        {
            TryDelete(ContainerBundleOf(sandbox, request.ContainerId.Value));
        }

        return Task.CompletedTask;
    }
}
