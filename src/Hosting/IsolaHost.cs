using Isola.Hosting.Configuration;
using Isola.Hosting.Containers;
using Isola.Hosting.Plugins;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace Isola.Hosting;

/// <summary>
/// A running Isola engine: the sandboxes it manages, its runtime handlers and its plugins. Disposing it stops the
/// background Waits and closes connections; sandboxes keep running and a later host recovers them.
/// </summary>
public sealed class IsolaHost : IIsola, IAsyncDisposable
{
    private readonly HostServices _services;
    private readonly IReadOnlyList<RuntimeHandler> _runtimes;
    private readonly PluginCatalog _plugins;
    private readonly IAsyncDisposable? _loggingServices;
    private int _disposed;

    internal IsolaHost(HostServices services, IReadOnlyList<RuntimeHandler> runtimes, PluginCatalog plugins,
        ILoggerFactory loggerFactory, IAsyncDisposable? loggingServices)
    {
        _services = services;
        _runtimes = runtimes;
        _plugins = plugins;
        LoggerFactory = loggerFactory;
        _loggingServices = loggingServices;
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
    public ISandboxes Sandboxes => _services.Sandboxes;

    /// <summary>The configured runtime handlers, with what each controller reports. Reading it builds the controllers
    /// not built yet, so in an <see cref="RecoveryMode.OnDemand"/> host a handler whose factory rejects its options is
    /// listed with that error, naming the configuration key, as its "error" detail (a <see cref="RecoveryMode.Full"/>
    /// host refused to start instead).</summary>
    public IReadOnlyList<RuntimeInfo> Runtimes => [.. _runtimes.Select(r => r.Info)];

    /// <inheritdoc />
    public IReadOnlyList<PluginInfo> Plugins => _plugins.Plugins;

    /// <summary>The logger factory the host and its plugins use.</summary>
    public ILoggerFactory LoggerFactory { get; }

    /// <summary>Where the output of an exec in <paramref name="container"/> goes when its <see cref="ExecSpec.Stdio"/> is
    /// null: <c>file://</c> URLs of <c>exec-EXECID.stdout.log</c> and <c>exec-EXECID.stderr.log</c> in the container's
    /// directory of the state root, next to its own logs. A caller that chooses <see cref="ExecSpec.ExecId"/> can follow
    /// these files while the exec runs, as <c>isola container exec</c> does. Nothing is created.</summary>
    /// <param name="container">A container of this host.</param>
    /// <param name="execId">The exec id the caller will put in <see cref="ExecSpec.ExecId"/>.</param>
    public StdioSpec DefaultExecStdio(IContainer container, ExecId execId)
    {
        ArgumentNullException.ThrowIfNull(container);
        return ContainerSet.DefaultExecStdio(_services.Store, container.SandboxId, container.Id, execId);
    }

    /// <summary>The engine's services, for tests.</summary>
    internal HostServices Services => _services;

    /// <summary>Stops background Waits and closes Task API connections. Sandboxes are not stopped.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _services.DisposeAsync().ConfigureAwait(false);
        var logger = LoggerFactory.CreateLogger("Isola.Hosting");
        // Only the controllers that were built (disposal must not build the others), each once.
        var disposed = new HashSet<object>(ReferenceEqualityComparer.Instance);
        foreach (var runtime in _runtimes)
        {
            if (runtime.CreatedController is { } controller && disposed.Add(controller))
            {
                await DisposeQuietlyAsync(controller, logger).ConfigureAwait(false);
            }
        }

        await _plugins.DisposeAsync(logger).ConfigureAwait(false);
        if (_loggingServices is not null)
        {
            await _loggingServices.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Disposes a plugin object that is disposable; a failure is logged, never thrown (the rest still goes).</summary>
    internal static async Task DisposeQuietlyAsync(object? item, ILogger logger)
    {
        try
        {
            switch (item)
            {
                case IAsyncDisposable asyncDisposable:
                    await asyncDisposable.DisposeAsync().ConfigureAwait(false);
                    break;
                case IDisposable disposable:
                    disposable.Dispose();
                    break;
            }
        }
        catch (Exception e)
        {
            logger.LogWarning("disposing {Type} failed: {Error}", item?.GetType().FullName, e.Message);
        }
    }
}
