using Isola.Hosting;
using Isola.Integration.Tests.Scripting;
using Microsoft.Extensions.Configuration;

namespace Isola.Integration.Tests.Vm;

/// <summary>
/// The chain as an engine sees it, with Isola in Kuasar's place: a host whose runtime is the <c>sandboxer</c>
/// controller asks <c>isola serve</c> (a separate process) for a sandbox over the Sandbox API; serve boots a microVM
/// with its <c>vm</c> runtime and returns the agent's task address; the engine side then runs its container in the VM
/// through that address.
/// </summary>
[Collection(VmCollection.Name)]
public sealed class VmOverSandboxApiTests : IDisposable
{
    private readonly string _work = Path.Combine(Path.GetTempPath(), "isola-vmsb-" + Guid.NewGuid().ToString("N")[..10]);

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
    public async Task A_sandboxer_runtime_runs_a_container_in_a_vm_booted_by_isola_serve()
    {
        var socket = Path.Combine(_work, "sandboxer.sock");
        var serverRoot = Path.Combine(_work, "server");
        var rootfs = Isola.TestSupport.TestRootfs.Make(Path.Combine(_work, "rootfs"));
        using var serve = IsolaProcess.Start(VmGuest.HostConfiguration(serverRoot, readiness: "agent"), Path.Combine(_work, "cache"),
            "serve", "--sandbox-api", socket, "--default-runtime", VmGuest.Runtime, "--bundle-root", Path.Combine(_work, "bundles"));
        Assert.True(await serve.WaitForStderrAsync("serving the Sandbox API", TimeSpan.FromMinutes(1)), serve.Stderr);

        var builder = IsolaHost.CreateBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Isola:Root"] = Path.Combine(_work, "engine"),
            ["Isola:PluginsDir"] = Path.Combine(AppContext.BaseDirectory, "plugins"),
            ["Isola:DefaultRuntime"] = "isola-vm",
            ["Isola:Runtimes:isola-vm:Controller"] = "sandboxer",
            ["Isola:Runtimes:isola-vm:Options:Address"] = "unix://" + socket,
            ["Isola:Runtimes:isola-vm:Options:Sandboxer"] = VmGuest.Runtime,
        });
        string id, output, taskAddress;
        ExitStatus exit;
        await using (var host = await builder.StartAsync())
        {
            var sandbox = await host.Sandboxes.RunAsync(new SandboxSpec());
            id = sandbox.Id.Value;
            taskAddress = sandbox.Info.TaskAddress;
            var c = await sandbox.Containers.RunAsync(new ContainerSpec { Rootfs = rootfs, Args = ["sh", "-c", "echo engine-to-vm; exit 4"] });
            exit = await c.WaitAsync();
            output = await File.ReadAllTextAsync(Path.Combine(_work, "engine", id, "containers", c.Id.Value, "stdout.log"));
            await sandbox.RemoveAsync();
            Assert.Empty(await host.Sandboxes.ListAsync());
        }

        serve.Signal("TERM");
        var serveExit = await serve.WaitAsync(TimeSpan.FromMinutes(1));

        Assert.StartsWith("ttrpc+unix://" + serverRoot, taskAddress);
        Assert.Equal(4u, exit.Code);
        Assert.Equal("engine-to-vm\n", output);
        Assert.Equal(0, serveExit);
        Assert.Empty(VmLeftovers.Of(serverRoot, id));
        Assert.Empty(RealPodHost.ProcessesUnder(_work));
    }
}
