using Isola.Hosting;
using Isola.Scripting;
using Microsoft.Extensions.Configuration;

namespace Isola.Integration.Tests.Scripting;

/// <summary>
/// kuasar-vm.csx on a Kuasar-style runtime handler (controller <c>sandboxer</c>), with <c>isola serve</c> as the
/// sandboxer: Kuasar itself cannot run here, so a second Isola host serves the Sandbox API over a real socket and runs
/// the pods as pause sandboxes through shim + runc. The workflow goes script -> host -> gRPC Sandbox API -> isola serve
/// -> shim, and its containers through the Task API address the sandboxer returns.
/// </summary>
public sealed class KuasarVmExampleTests : IDisposable
{
    private readonly string _work = Path.Combine(Path.GetTempPath(), "isola-kvm-" + Guid.NewGuid().ToString("N")[..12]);

    public void Dispose()
    {
        if (Directory.Exists(_work))
        {
            Directory.Delete(_work, recursive: true);
        }
    }

    [Fact]
    public async Task Kuasar_vm_example_runs_against_isola_serve_and_leaves_nothing()
    {
        var socket = Path.Combine(_work, "sb.sock");
        var serverWork = Path.Combine(_work, "server");
        Directory.CreateDirectory(serverWork);
        using var clientLeaks = new LeakWatch(Path.Combine(_work, "root"), _work);
        using var serverLeaks = new LeakWatch(Path.Combine(serverWork, "root"), serverWork);
        using var serve = IsolaProcess.Start(RealPodHost.Settings(serverWork), Path.Combine(_work, "cache"),
            "serve", "--sandbox-api", socket, "--default-runtime", "runc", "--bundle-root", Path.Combine(serverWork, "bundles"));
        Assert.True(await serve.WaitForStderrAsync("serving the Sandbox API", TimeSpan.FromMinutes(1)), serve.Stderr);

        var builder = IsolaHost.CreateBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Isola:Root"] = Path.Combine(_work, "root"),
            ["Isola:PluginsDir"] = Path.Combine(AppContext.BaseDirectory, "plugins"),
            ["Isola:DefaultRuntime"] = "kuasar-vmm",
            ["Isola:Runtimes:kuasar-vmm:Controller"] = "sandboxer",
            ["Isola:Runtimes:kuasar-vmm:Options:Address"] = "unix://" + socket,
            ["Isola:Runtimes:kuasar-vmm:Options:Sandboxer"] = "runc",
        });
        ScriptRunResult result;
        await using (var host = await builder.StartAsync())
        {
            var runner = IsolaScripting.CreateRunner(host, new ScriptingOptions { CacheDir = Path.Combine(_work, "cache") }, host.LoggerFactory);
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
            result = await runner.RunAsync(RealPodHost.Example("kuasar-vm.csx"), [], timeout.Token);
            Assert.Empty(await host.Sandboxes.ListAsync());
        }

        Assert.True(result is { Outcome: ScriptOutcome.Succeeded, ExitCode: 0 },
            $"{result.Outcome} exit {result.ExitCode}: {result.Error}\n{string.Join('\n', result.Diagnostics)}\n{result.ErrorDetail}\nserver:\n{serve.Stderr}");
        serve.Signal("TERM");
        Assert.Equal(0, await serve.WaitAsync(TimeSpan.FromMinutes(1)));
        Assert.Empty(RealPodHost.ProcessesUnder(_work));
        var serverRoot = Path.Combine(serverWork, "root");
        Assert.DoesNotContain(Directory.GetDirectories(serverRoot), d => !Path.GetFileName(d).StartsWith('.'));
        Assert.NotEmpty(serverLeaks.Ids);
        serverLeaks.AssertNothingLeft();
        clientLeaks.AssertNothingLeft();
    }
}
