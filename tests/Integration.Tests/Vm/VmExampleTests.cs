using Isola.Integration.Tests.Scripting;

namespace Isola.Integration.Tests.Vm;

/// <summary>scripts/examples/vm-sandbox.csx through the real CLI (`isola run`), on the QEMU microvm runtime.</summary>
[Collection(VmCollection.Name)]
public sealed class VmExampleTests : IDisposable
{
    private readonly string _work = Path.Combine(Path.GetTempPath(), "isola-vmex-" + Guid.NewGuid().ToString("N")[..10]);

    public void Dispose()
    {
        VmLeftovers.KillVmms(_work);
        VmLeftovers.UnmountUnder(_work);
        if (Directory.Exists(_work))
        {
            Directory.Delete(_work, recursive: true);
        }
    }

    [Fact]
    public async Task Vm_sandbox_example_prints_the_guest_containers_output_and_leaves_nothing()
    {
        var root = Path.Combine(_work, "root");
        var settings = VmGuest.HostConfiguration(root, readiness: "agent");
        using var isola = IsolaProcess.Start(settings, Path.Combine(_work, "cache"), "run", RealPodHost.Example("vm-sandbox.csx"));

        var exit = await isola.WaitAsync(TimeSpan.FromMinutes(3));

        Assert.True(exit == 0, $"exit {exit}\nstdout: {isola.Stdout}\nstderr: {isola.Stderr}");
        // The container ran on the guest's kernel: the one build-guest unpacked.
        var guestKernel = File.ReadAllText(Path.Combine(Path.GetDirectoryName(settings[$"Isola:Runtimes:{VmGuest.Runtime}:Options:Kernel"])!, "kernel-version")).Trim();
        Assert.Contains($"hello from a microVM: kernel {guestKernel}", isola.Stdout);
        Assert.Empty(RealPodHost.ProcessesUnder(_work));
        Assert.Empty(Directory.Exists(root) ? Directory.GetDirectories(root).Where(d => !Path.GetFileName(d).StartsWith('.')) : []);
    }
}
