using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Isola.Plugins.Sandboxer.Tests.Kuasar;

/// <summary>Which double a <see cref="FakeSandboxerServer"/> serves.</summary>
public enum FakeKind
{
    KuasarV0,
    KuasarV1,
    /// <summary>Accepts connections and calls but never answers.</summary>
    Silent,
}

/// <summary>A Kuasar double on a real Unix socket (tonic serves h2c; Kestrel here does too). The state survives
/// <see cref="StopAsync"/>/<see cref="StartAsync"/>, as Kuasar recovers its sandboxes after a restart.</summary>
internal sealed class FakeSandboxerServer : IAsyncDisposable
{
    private WebApplication? _app;

    private FakeSandboxerServer(FakeKind kind, string directory)
    {
        Kind = kind;
        Directory = directory;
        SocketPath = Path.Combine(directory, "sb.sock");
    }

    public FakeKind Kind { get; }
    public string Directory { get; }
    public string SocketPath { get; }
    public KuasarState State { get; } = new();

    public static async Task<FakeSandboxerServer> StartNewAsync(FakeKind kind)
    {
        var dir = Path.Combine(Path.GetTempPath(), "isola-sbx-" + Guid.NewGuid().ToString("N")[..12]);
        System.IO.Directory.CreateDirectory(dir);
        var server = new FakeSandboxerServer(kind, dir);
        await server.StartAsync();
        return server;
    }

    public async Task StartAsync()
    {
        // Kuasar removes a stale socket file before binding.
        File.Delete(SocketPath);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.ListenUnixSocket(SocketPath, o => o.Protocols = HttpProtocols.Http2));
        builder.Services.AddGrpc(o =>
        {
            if (Kind is not FakeKind.Silent)
            {
                o.Interceptors.Add<SandboxerFieldRule>();
            }
        });
        builder.Services.AddSingleton(State);
        builder.Services.AddSingleton(new FakeKuasarV0(State, Path.Combine(Directory, "kuasar-vmm")));
        var app = builder.Build();
        switch (Kind)
        {
            case FakeKind.KuasarV0: app.MapGrpcService<FakeKuasarV0>(); break;
            case FakeKind.KuasarV1: app.MapGrpcService<FakeKuasarV1>(); break;
            default: app.MapGrpcService<SilentController>(); break;
        }

        await app.StartAsync();
        _app = app;
    }

    /// <summary>The sandboxer goes away: connections drop and the socket file disappears.</summary>
    public async Task StopAsync()
    {
        if (_app is { } app)
        {
            _app = null;
            using (var cts = new CancellationTokenSource(TimeSpan.FromSeconds(1)))
            {
                await app.StopAsync(cts.Token);
            }

            await app.DisposeAsync();
        }

        File.Delete(SocketPath);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        System.IO.Directory.Delete(Directory, recursive: true);
    }
}
