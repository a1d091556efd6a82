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
    private VmHost(string work, IsolaHost host)
    {
        Work = work;
        Host = host;
    }

    public string Work { get; }

    public string Root => Path.Combine(Work, "root");

    public string Rootfs => Path.Combine(Work, "rootfs");

    public IsolaHost Host { get; private set; }

    public static async Task<VmHost> StartAsync()
    {
        Peers.Require(("busybox", "busybox-static"));
        var work = Path.Combine(Path.GetTempPath(), "isola-itvmc-" + Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(work);
        TestRootfs.Make(Path.Combine(work, "rootfs"));
        return new VmHost(work, await BuildAsync(work));
    }

    /// <summary>Replaces the host with a new one on the same root, as a new host process would find it.</summary>
    public async Task RestartAsync()
    {
        await Host.DisposeAsync();
        Host = await BuildAsync(Work);
    }

    /// <summary>The host-side file a container's stdout or stderr went to.</summary>
    public string Log(string sandboxId, string containerId, string file = "stdout.log") =>
        Path.Combine(Root, sandboxId, "containers", containerId, file);

    private static async Task<IsolaHost> BuildAsync(string work)
    {
        var builder = IsolaHost.CreateBuilder();
        builder.Configuration.AddInMemoryCollection(VmGuest.HostConfiguration(Path.Combine(work, "root"), readiness: "agent"));
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
