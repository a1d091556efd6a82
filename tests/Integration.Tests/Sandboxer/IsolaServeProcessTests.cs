using System.Runtime.Versioning;
using Isola.Hosting;
using Isola.Integration.Tests.Scripting;
using Microsoft.Extensions.Configuration;

namespace Isola.Integration.Tests.Sandboxer;

/// <summary>`isola serve` as the real command: a socket of mode 0600, a clean exit on SIGTERM that unlinks it while
/// the sandboxes it runs keep running, and a restarted server that picks them up again.</summary>
[SupportedOSPlatform("linux")]
public sealed class IsolaServeProcessTests : IDisposable
{
    private readonly string _work = Path.Combine(Path.GetTempPath(), "isola-sbp-" + Guid.NewGuid().ToString("N")[..10]);

    public IsolaServeProcessTests() => Directory.CreateDirectory(_work);

    public void Dispose() => Directory.Delete(_work, recursive: true);

    private string Socket => Path.Combine(_work, "api.sock");

    [Fact]
    public async Task Serve_exits_cleanly_on_SIGTERM_and_a_new_serve_takes_its_sandboxes_back()
    {
        var sandboxId = "";
        await using var client = await StartClientAsync();
        using (var serve = StartServe())
        {
            Assert.True(await serve.WaitForStderrAsync("serving the Sandbox API", TimeSpan.FromSeconds(60)), serve.Stderr);
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Socket));
            sandboxId = (await client.Sandboxes.RunAsync(new SandboxSpec())).Id.Value;

            serve.Signal("TERM");
            Assert.Equal(0, await serve.WaitAsync(TimeSpan.FromSeconds(30)));
            Assert.False(File.Exists(Socket), "the socket should be unlinked on exit");
        }

        var pid = (await client.Sandboxes.GetAsync(sandboxId)).Info.Pid;
        Assert.True(File.Exists($"/proc/{pid}/ns/net"), "the pause sandbox outlives the server");

        using (var again = StartServe())
        {
            Assert.True(await again.WaitForStderrAsync("serving the Sandbox API", TimeSpan.FromSeconds(60)), again.Stderr);
            var sandbox = await client.Sandboxes.GetAsync(sandboxId);
            Assert.True((await sandbox.InspectAsync()).State is SandboxState.Ready or SandboxState.Pending);
            await sandbox.RemoveAsync();
            Assert.False(File.Exists($"/proc/{pid}/ns/net"), "Remove through the restarted server should end the pause");
            again.Signal("INT");
            Assert.Equal(0, await again.WaitAsync(TimeSpan.FromSeconds(30)));
        }

        Assert.Empty(await client.Sandboxes.ListAsync());
    }

    private IsolaProcess StartServe() => IsolaProcess.Start(new Dictionary<string, string?>
    {
        ["Isola:Root"] = Path.Combine(_work, "server-root"),
        ["Isola:PluginsDir"] = Path.Combine(AppContext.BaseDirectory, "plugins"),
        ["Isola:DefaultRuntime"] = "runc",
        ["Isola:Runtimes:runc:Controller"] = "shim",
        ["Isola:Runtimes:runc:Options:Runtime"] = "runc",
    }, Path.Combine(_work, "cache"), "serve", "--sandbox-api", Socket, "--bundle-root", Path.Combine(_work, "bundles"));

    private Task<IsolaHost> StartClientAsync()
    {
        var builder = IsolaHost.CreateBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Isola:Root"] = Path.Combine(_work, "client-root"),
            ["Isola:PluginsDir"] = Path.Combine(AppContext.BaseDirectory, "plugins"),
            ["Isola:DefaultRuntime"] = "remote",
            ["Isola:Timeouts:WaitRetryMax"] = "00:00:01",
            ["Isola:Runtimes:remote:Controller"] = "sandboxer",
            ["Isola:Runtimes:remote:Options:Address"] = Socket,
            ["Isola:Runtimes:remote:Options:Sandboxer"] = "runc",
        });
        return builder.StartAsync();
    }
}
