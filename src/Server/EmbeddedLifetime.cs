using Microsoft.Extensions.Hosting;

namespace Isola.Server;

/// <summary>
/// The server runs inside a program that owns the process's signals (the isola CLI, an embedding application), so
/// the web host must not install its own SIGINT/SIGTERM handlers (ConsoleLifetime would swallow them); it is
/// stopped through <see cref="SandboxApiServer.DisposeAsync"/>.
/// </summary>
internal sealed class EmbeddedLifetime : IHostLifetime
{
    public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
