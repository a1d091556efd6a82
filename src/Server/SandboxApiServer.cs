using System.Net.Sockets;
using Isola.Server.Native;
using Isola.Server.Security;
using Isola.Server.Services;
using Isola.Server.Tasks;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Isola.Server;

/// <summary>
/// <c>isola serve --sandbox-api &lt;socket&gt;</c>: serves containerd's v1 Sandbox Controller API (gRPC, h2c) on a Unix
/// socket, backed by an <see cref="IIsola"/>. The socket is mode 0600 and connections from uids not in
/// <see cref="SandboxApiServerOptions.AllowedUids"/> are dropped.
/// </summary>
public sealed class SandboxApiServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private SandboxApiServer(WebApplication app, string socketPath)
    {
        _app = app;
        SocketPath = socketPath;
    }

    /// <summary>The socket it listens on.</summary>
    public string SocketPath { get; }

    /// <summary>Binds the socket and starts serving. Throws <see cref="IsolaErrorCode.AlreadyExists"/> when another
    /// server answers on the socket, <see cref="IsolaErrorCode.InvalidArgument"/> when the path is not usable.</summary>
    public static async Task<SandboxApiServer> StartAsync(IIsola isola, SandboxApiServerOptions options, ILoggerFactory loggerFactory,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(isola);
        ArgumentNullException.ThrowIfNull(options);
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("isola serve needs Linux (Unix sockets with SO_PEERCRED)");
        }

        if (options.DefaultRuntime is { } runtime && !isola.Runtimes.Any(r => r.Name == runtime))
        {
            throw IsolaException.InvalidArgument(
                $"--default-runtime '{runtime}' is not a configured runtime (known: {string.Join(", ", isola.Runtimes.Select(r => r.Name))})");
        }

        var path = options.SocketPath;
        await RemoveStaleSocketAsync(path, cancellationToken).ConfigureAwait(false);
        var allowed = options.AllowedUids.Count > 0 ? options.AllowedUids.ToHashSet() : [PeerCredentials.EffectiveUid()];
        var logger = loggerFactory.CreateLogger<SandboxApiServer>();

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton<IHostLifetime, EmbeddedLifetime>();
        builder.Services.AddSingleton(loggerFactory);
        builder.Services.AddSingleton(typeof(ILogger<>), typeof(Logger<>));
        builder.Services.AddSingleton(isola);
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton(new TaskBundleWriter(options.BundleRoot, loggerFactory.CreateLogger<TaskBundleWriter>()));
        builder.Services.AddSingleton(new GuestTaskStager(options.BundleRoot, loggerFactory.CreateLogger<GuestTaskStager>()));
        builder.Services.AddGrpc();
        builder.WebHost.ConfigureKestrel(k => k.ListenUnixSocket(path, listen =>
        {
            listen.Protocols = HttpProtocols.Http2;
            listen.Use(PeerUidFilter.Create(allowed, logger));
        }));
        var app = builder.Build();
        app.MapGrpcService<ControllerService>();
        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        logger.LogInformation("serving the Sandbox API (v1) on {Socket} for uids {Uids}", path, string.Join(",", allowed));
        return new SandboxApiServer(app, path);
    }

    /// <summary>Stops serving (in-flight Waits are cancelled) and removes the socket file.</summary>
    public async ValueTask DisposeAsync()
    {
        // Unlink first: no new client can connect, and the file is gone even if the process is torn down while
        // Kestrel drains.
        File.Delete(SocketPath);
        using (var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5)))
        {
            await _app.StopAsync(cts.Token).ConfigureAwait(false);
        }

        await _app.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>Makes room for the socket: only a socket nobody listens on (left by a server that died) is removed.
    /// Anything else at the path, even an empty file, is refused with one line naming it and is left as it was.</summary>
    private static async Task RemoveStaleSocketAsync(string path, CancellationToken cancellationToken)
    {
        if (!Path.IsPathRooted(path) || System.Text.Encoding.UTF8.GetByteCount(path) > 107)
        {
            throw IsolaException.InvalidArgument($"--sandbox-api '{path}' must be an absolute path of at most 107 bytes");
        }

        UnixFileKind kind;
        try
        {
            kind = UnixFileType.Of(path);
        }
        catch (IOException e)
        {
            throw IsolaException.InvalidArgument($"--sandbox-api {e.Message}");
        }

        switch (kind)
        {
            case UnixFileKind.Missing:
                return;
            case UnixFileKind.Directory:
                throw IsolaException.InvalidArgument($"--sandbox-api '{path}' is a directory, not a socket");
            case UnixFileKind.Symlink or UnixFileKind.Other:
                throw IsolaException.InvalidArgument($"--sandbox-api '{path}' exists and is not a socket; remove it or choose another path");
        }

        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await probe.ConnectAsync(new UnixDomainSocketEndPoint(path), cancellationToken).ConfigureAwait(false);
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionRefused or SocketError.AddressNotAvailable)
        {
            // Nobody listens (or it vanished meanwhile): a leftover of a crashed server.
            File.Delete(path);
            return;
        }
        catch (SocketException e)
        {
            throw IsolaException.FailedPrecondition($"--sandbox-api '{path}': cannot tell whether a server listens on it: {e.Message}");
        }

        throw IsolaException.AlreadyExists($"--sandbox-api '{path}': another server is listening on it");
    }
}
