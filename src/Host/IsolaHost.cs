using Isola.Hosting.Sandboxes;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace Isola.Hosting;

/// <summary>
/// A running Isola engine: the sandboxes it manages, its runtime handlers and its plugins. Disposing it stops the
/// background Waits and closes connections; sandboxes keep running and a later host recovers them.
/// </summary>
public sealed class IsolaHost : IIsola, IAsyncDisposable
{
    private readonly SandboxManager _manager;
    private readonly IAsyncDisposable? _services;
    private int _disposed;

    internal IsolaHost(SandboxManager manager, IReadOnlyList<RuntimeInfo> runtimes, IReadOnlyList<PluginInfo> plugins,
        ILoggerFactory loggerFactory, IAsyncDisposable? services)
    {
        _manager = manager;
        Runtimes = runtimes;
        Plugins = plugins;
        LoggerFactory = loggerFactory;
        _services = services;
    }

    /// <summary>A builder with the standard configuration sources, lowest precedence first: the JSON file named by
    /// <c>--config FILE</c> in <paramref name="args"/>, else by the ISOLA_CONFIG environment variable, else
    /// /etc/isola/isola.json if it exists; environment variables (<c>ISOLA__ROOT</c> sets <c>Isola:Root</c>); then
    /// command-line overrides such as <c>--Isola:Root=/tmp/isola</c>.</summary>
    public static IsolaHostBuilder CreateBuilder(string[]? args = null)
    {
        args ??= [];
        var configuration = new ConfigurationManager();
        var (file, rest) = HostConfiguration.SplitConfigArgument(args);
        HostConfiguration.AddStandardSources(configuration, file, rest);
        return new IsolaHostBuilder(configuration);
    }

    /// <inheritdoc />
    public ISandboxes Sandboxes => _manager;

    /// <inheritdoc />
    public IReadOnlyList<RuntimeInfo> Runtimes { get; }

    /// <inheritdoc />
    public IReadOnlyList<PluginInfo> Plugins { get; }

    /// <summary>The logger factory the host and its plugins use.</summary>
    public ILoggerFactory LoggerFactory { get; }

    /// <summary>The engine, for the command line and tests.</summary>
    internal SandboxManager Manager => _manager;

    /// <summary>Stops background Waits and closes Task API connections. Sandboxes are not stopped.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _manager.DisposeAsync().ConfigureAwait(false);
        if (_services is not null)
        {
            await _services.DisposeAsync().ConfigureAwait(false);
        }
    }
}
