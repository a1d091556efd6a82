using Isola.Hosting;
using Isola.TestSupport;
using Microsoft.Extensions.Configuration;

namespace Isola.Integration.Tests.Vm;

/// <summary>The VM tests that run containers take turns: each boots QEMU under TCG, and two cores cannot boot several
/// guests at once within the tests' deadlines.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class VmCollection
{
    public const string Name = "vm";
}

/// <summary>A host whose default runtime is the QEMU microvm with the real guest (isola-agent, runc), checked for
/// readiness through the agent, plus a busybox rootfs for its containers.</summary>
internal sealed class VmHost : IAsyncDisposable
{
    private readonly bool _sharedFs;

    private VmHost(string work, IsolaHost host, bool sharedFs)
    {
        Work = work;
        Host = host;
        _sharedFs = sharedFs;
    }

    public string Work { get; }

    public string Root => Path.Combine(Work, "root");

    public string Rootfs => Path.Combine(Work, "rootfs");

    public IsolaHost Host { get; private set; }

    /// <param name="sharedFs">False for a VM without virtiofs: bundles travel in Create's options, stdio is streamed
    /// over the agent channel.</param>
    public static async Task<VmHost> StartAsync(bool sharedFs = true)
    {
        Peers.Require(("busybox", "busybox-static"));
        var work = Path.Combine(Path.GetTempPath(), "isola-itvmc-" + Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(work);
        TestRootfs.Make(Path.Combine(work, "rootfs"));
        return new VmHost(work, await BuildAsync(work, sharedFs), sharedFs);
    }

    /// <summary>Replaces the host with a new one on the same root, as a new host process would find it.</summary>
    /// <param name="whileStopped">Runs after the old host is gone and before the new one starts.</param>
    public async Task RestartAsync(Func<Task>? whileStopped = null)
    {
        await Host.DisposeAsync();
        if (whileStopped is not null)
        {
            await whileStopped();
        }

        Host = await BuildAsync(Work, _sharedFs);
    }

    /// <summary>The host-side file a container's stdout or stderr went to.</summary>
    public string Log(SandboxId sandboxId, ContainerId containerId, string file = "stdout.log") =>
        Path.Combine(Root, sandboxId.Value, "containers", containerId.Value, file);

    private static async Task<IsolaHost> BuildAsync(string work, bool sharedFs)
    {
        var builder = IsolaHost.CreateBuilder();
        var configuration = VmGuest.HostConfiguration(Path.Combine(work, "root"), readiness: "agent");
        configuration[$"Isola:Runtimes:{VmGuest.Runtime}:Options:SharedFs"] = sharedFs ? "true" : "false";
        builder.Configuration.AddInMemoryCollection(configuration);
        return await builder.StartAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await Host.DisposeAsync();
        VmLeftovers.KillVmms(Root);
        foreach (var dir in new[] { Work, Root + "-plugins" })
        {
            if (Directory.Exists(dir))
            {
                VmLeftovers.UnmountUnder(dir);
                Directory.Delete(dir, true);
            }
        }
    }
}
