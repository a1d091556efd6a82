using Isola.Hosting;
using Isola.Server;
using Isola.TestSupport;
using Microsoft.Extensions.Configuration;

namespace Isola.Integration.Tests.Sandboxer;

/// <summary>
/// Two real hosts joined by the Sandbox API: the server host runs pause sandboxes through the shim plugin
/// (containerd-shim-runc-v2 + runc) behind `isola serve` on a Unix socket; the client host's runtime "remote" is the
/// sandboxer controller pointed at that socket. Both load the default plugins from the plugins folder.
/// </summary>
internal sealed class ServedPodFixture : IAsyncDisposable
{
    private ServedPodFixture(string work, IsolaHost server, SandboxApiServer? api, IsolaHost client, string rootfs)
    {
        Work = work;
        ServerHost = server;
        Api = api;
        ClientHost = client;
        Rootfs = rootfs;
    }

    public string Work { get; }
    public IsolaHost ServerHost { get; }
    public SandboxApiServer? Api { get; private set; }
    public IsolaHost ClientHost { get; private set; }
    public string SocketPath => Path.Combine(Work, "api.sock");
    public string Rootfs { get; }
    public string BundleRoot => Path.Combine(Work, "bundles");

    public static async Task<ServedPodFixture> StartAsync()
    {
        Peers.RequireShimAndBusybox();
        var work = Path.Combine(Path.GetTempPath(), "isola-sbw-" + Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(work);
        var plugins = Path.Combine(AppContext.BaseDirectory, "plugins");
        var rootfs = TestRootfs.Make(Path.Combine(work, "rootfs"));
        var serverBuilder = IsolaHost.CreateBuilder();
        serverBuilder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Isola:Root"] = Path.Combine(work, "server-root"),
            ["Isola:PluginsDir"] = plugins,
            ["Isola:DefaultRuntime"] = "runc",
            ["Isola:Runtimes:runc:Controller"] = "shim",
            ["Isola:Runtimes:runc:Options:Runtime"] = "runc",
        });
        var server = await serverBuilder.StartAsync();
        var api = await StartApiAsync(server, work);
        var client = await StartClientAsync(work, plugins);
        return new ServedPodFixture(work, server, api, client, rootfs);
    }

    /// <summary>`isola serve` goes away: connections drop and the socket file disappears.</summary>
    public async Task StopApiAsync()
    {
        if (Api is { } api)
        {
            Api = null;
            await api.DisposeAsync();
        }
    }

    /// <summary>`isola serve` comes back on the same socket, in front of the same server host.</summary>
    public async Task RestartApiAsync() => Api = await StartApiAsync(ServerHost, Work);

    /// <summary>The client host process "restarts": a new host on the same state root.</summary>
    public async Task RestartClientAsync()
    {
        await ClientHost.DisposeAsync();
        ClientHost = await StartClientAsync(Work, Path.Combine(AppContext.BaseDirectory, "plugins"));
    }

    private static Task<SandboxApiServer> StartApiAsync(IsolaHost server, string work) =>
        SandboxApiServer.StartAsync(server, new SandboxApiServerOptions
        {
            SocketPath = Path.Combine(work, "api.sock"),
            BundleRoot = Path.Combine(work, "bundles"),
        }, server.LoggerFactory);

    private static Task<IsolaHost> StartClientAsync(string work, string plugins)
    {
        var clientBuilder = IsolaHost.CreateBuilder();
        clientBuilder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Isola:Root"] = Path.Combine(work, "client-root"),
            ["Isola:PluginsDir"] = plugins,
            ["Isola:DefaultRuntime"] = "remote",
            ["Isola:Runtimes:remote:Controller"] = "sandboxer",
            ["Isola:Timeouts:WaitRetryMax"] = "00:00:01",
            ["Isola:Runtimes:remote:Options:Address"] = "unix://" + Path.Combine(work, "api.sock"),
            // The sandboxer field names the server's runtime handler.
            ["Isola:Runtimes:remote:Options:Sandboxer"] = "runc",
        });
        return clientBuilder.StartAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await ClientHost.DisposeAsync();
        await StopApiAsync();
        await ServerHost.DisposeAsync();
        Directory.Delete(Work, recursive: true);
    }

    /// <summary>Processes whose command line or working directory lies under the fixture's directory (shims, pause).</summary>
    public List<string> ProcessesUnderWork()
    {
        var found = new List<string>();
        foreach (var proc in Directory.GetDirectories("/proc").Where(p => int.TryParse(Path.GetFileName(p), out _)))
        {
            try
            {
                var cmdline = File.ReadAllText(Path.Combine(proc, "cmdline")).Replace('\0', ' ');
                var cwd = new DirectoryInfo(Path.Combine(proc, "cwd")).ResolveLinkTarget(false)?.FullName ?? "";
                if (cmdline.Contains(Work, StringComparison.Ordinal) || cwd.StartsWith(Work, StringComparison.Ordinal))
                {
                    found.Add($"{Path.GetFileName(proc)}: {cmdline.Trim()}");
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Gone while we looked.
            }
        }

        return found;
    }
}
