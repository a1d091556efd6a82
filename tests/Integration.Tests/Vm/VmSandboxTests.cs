using Isola.Hosting;
using Isola.TestSupport;
using Microsoft.Extensions.Configuration;

namespace Isola.Integration.Tests.Vm;

/// <summary>VM sandboxes through the public host API: the `vm` controller loaded from the plugins folder, driving a
/// real QEMU microvm. These cover the sandbox lifecycle; VmContainerTests runs containers in it.</summary>
public sealed class VmSandboxTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "isola-itvm-" + Guid.NewGuid().ToString("N")[..8]);

    private async Task<IsolaHost> StartHostAsync(string readiness = "console-marker")
    {
        var builder = IsolaHost.CreateBuilder();
        builder.Configuration.AddInMemoryCollection(VmGuest.HostConfiguration(_root, readiness));
        return await builder.StartAsync();
    }

    [Fact]
    public async Task A_vm_sandbox_runs_stops_and_is_removed_without_leftovers()
    {
        // Agent readiness: the loaded plugin's ttrpc client checks the guest through the ttrpc+unix task address.
        await using var host = await StartHostAsync(readiness: "agent");

        var sandbox = await host.Sandboxes.RunAsync(new SandboxSpec { Runtime = VmGuest.Runtime });
        var info = await sandbox.InspectAsync();
        var pid = info.Pid;
        var stateDir = Path.Combine(_root, sandbox.Id.Value);
        var console = "";
        console = await File.ReadAllTextAsync(Path.Combine(stateDir, "console.log"));

        await sandbox.StopAsync(TimeSpan.FromSeconds(5));
        var stopped = await sandbox.InspectAsync();
        await sandbox.RemoveAsync();

        Assert.Equal(SandboxState.Ready, info.State);
        Assert.StartsWith("ttrpc+unix://", info.TaskAddress);
        Assert.Contains("ISOLA-AGENT-READY", console);
        Assert.Equal(SandboxState.Stopped, stopped.State);
        Assert.False(Processes.IsRunning(pid), $"VMM pid {pid} should be gone");
        Assert.False(Directory.Exists(stateDir), "the sandbox's state directory should be removed");
        Assert.Empty(await host.Sandboxes.ListAsync());
    }

    [Fact]
    public async Task A_vm_sandbox_survives_a_host_restart_and_is_stoppable_from_the_new_host()
    {
        string id;
        uint pid;
        await using (var first = await StartHostAsync())
        {
            var sandbox = await first.Sandboxes.RunAsync(new SandboxSpec { Runtime = VmGuest.Runtime });
            id = sandbox.Id.Value;
            pid = sandbox.Info.Pid;
        }

        Assert.True(Processes.IsRunning(pid), "the VM must outlive the host");
        await using var second = await StartHostAsync();
        var recovered = await second.Sandboxes.GetAsync(id);
        var info = await recovered.InspectAsync();
        await recovered.RemoveAsync();

        Assert.Equal(SandboxState.Ready, info.State);
        Assert.Equal(pid, info.Pid);
        Assert.False(Processes.IsRunning(pid), $"VMM pid {pid} should be gone after Remove");
        Assert.False(Directory.Exists(Path.Combine(_root, id)));
    }

    [Fact]
    public async Task A_bad_vm_option_stops_the_host_at_start_naming_the_key()
    {
        var config = VmGuest.HostConfiguration(_root);
        config[$"Isola:Runtimes:{VmGuest.Runtime}:Options:Vcpus"] = "0";
        var builder = IsolaHost.CreateBuilder();
        builder.Configuration.AddInMemoryCollection(config);

        var e = await Assert.ThrowsAsync<IsolaException>(() => builder.StartAsync());

        Assert.Equal(IsolaErrorCode.InvalidArgument, e.Code);
        Assert.Contains($"Isola:Runtimes:{VmGuest.Runtime}:Options:Vcpus", e.Message);
    }

    public void Dispose()
    {
        foreach (var pidFile in Directory.Exists(_root) ? Directory.GetFiles(_root, "vmm.pid", SearchOption.AllDirectories) : [])
        {
            if (uint.TryParse(File.ReadAllText(pidFile).Trim(), out var pid) && Processes.IsRunning(pid))
            {
                System.Diagnostics.Process.GetProcessById((int)pid).Kill();
            }
        }

        foreach (var dir in new[] { _root, _root + "-plugins" })
        {
            if (Directory.Exists(dir))
            {
                Directory.Delete(dir, true);
            }
        }
    }
}
