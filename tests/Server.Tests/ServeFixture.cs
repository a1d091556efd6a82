using Isola.Hosting;
using Isola.Plugins.Sandboxer;
using Isola.Plugins.Sandboxer.Tests.Kuasar;
using Isola.SandboxApi.V1;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;

namespace Isola.Server.Tests;

/// <summary>
/// `isola serve` on a real Unix socket, backed by a real IsolaHost whose runtime "kuasar" drives the Kuasar 1.x
/// double through the sandboxer controller, plus a raw generated client: every hop is real gRPC over a Unix socket.
/// </summary>
internal sealed class ServeFixture : IAsyncDisposable
{
    private ServeFixture(string dir, FakeSandboxerServer kuasar, IsolaHost host, SandboxApiServer server)
    {
        Directory = dir;
        Kuasar = kuasar;
        Host = host;
        Server = server;
        Channel = Grpc.Net.Client.GrpcChannel.ForAddress("http://localhost", new Grpc.Net.Client.GrpcChannelOptions
        {
            HttpHandler = new SocketsHttpHandler
            {
                ConnectCallback = async (_, ct) =>
                {
                    var s = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, 0);
                    await s.ConnectAsync(new System.Net.Sockets.UnixDomainSocketEndPoint(server.SocketPath), ct);
                    return new System.Net.Sockets.NetworkStream(s, ownsSocket: true);
                },
            },
        });
        Client = new Controller.ControllerClient(Channel);
    }

    public string Directory { get; }
    public FakeSandboxerServer Kuasar { get; }
    public IsolaHost Host { get; }
    public SandboxApiServer Server { get; }
    public Grpc.Net.Client.GrpcChannel Channel { get; }
    public Controller.ControllerClient Client { get; }
    public string BundleRoot => Path.Combine(Directory, "bundles");

    public static async Task<ServeFixture> StartAsync(IReadOnlyCollection<uint>? allowedUids = null)
    {
        var dir = Path.Combine(Path.GetTempPath(), "isola-serve-" + Guid.NewGuid().ToString("N")[..12]);
        System.IO.Directory.CreateDirectory(dir);
        var kuasar = await FakeSandboxerServer.StartNewAsync(FakeKind.KuasarV1);
        var builder = IsolaHost.CreateBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Isola:Root"] = Path.Combine(dir, "root"),
            ["Isola:DefaultRuntime"] = "kuasar",
            ["Isola:Runtimes:kuasar:Controller"] = "sandboxer",
            ["Isola:Runtimes:kuasar:Options:Address"] = "unix://" + kuasar.SocketPath,
            ["Isola:Runtimes:kuasar:Options:Sandboxer"] = "vmm",
        });
        builder.AddPlugin(new SandboxerPlugin());
        var host = await builder.StartAsync();
        var server = await SandboxApiServer.StartAsync(host, new SandboxApiServerOptions
        {
            SocketPath = Path.Combine(dir, "api.sock"),
            BundleRoot = Path.Combine(dir, "bundles"),
            AllowedUids = allowedUids ?? [],
        }, NullLoggerFactory.Instance);
        return new ServeFixture(dir, kuasar, host, server);
    }

    public async ValueTask DisposeAsync()
    {
        Channel.Dispose();
        await Server.DisposeAsync();
        await Host.DisposeAsync();
        await Kuasar.DisposeAsync();
        System.IO.Directory.Delete(Directory, recursive: true);
    }
}
