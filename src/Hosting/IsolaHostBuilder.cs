using Isola.Images;
using Isola.Hosting.Configuration;
using Isola.Hosting.Plugins;
using Isola.Plugins;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Isola.Hosting;

/// <summary>
/// Configures and starts an <see cref="IsolaHost"/>: configuration sources, logging and in-process plugins.
/// </summary>
public sealed class IsolaHostBuilder
{
    private readonly ServiceCollection _services = new();
    private readonly List<IIsolaPlugin> _inProcess = [];
    private readonly ServiceDescriptor[] _defaultLogging;
    private ILoggerFactory? _externalLoggerFactory;

    internal IsolaHostBuilder(ConfigurationManager configuration)
    {
        Configuration = configuration;
        Logging = new LoggingBuilder(_services);
        _services.AddLogging();
        _defaultLogging = [.. _services];
    }

    /// <summary>The configuration; add sources (for example <c>AddInMemoryCollection</c>) before <see cref="StartAsync"/>.
    /// Later sources override earlier ones.</summary>
    public ConfigurationManager Configuration { get; }

    /// <summary>Logging providers and filters (none by default: the host is silent unless a provider is added).</summary>
    public ILoggingBuilder Logging { get; }

    /// <summary>Adds a plugin that lives in the calling process (tests, embedding applications); it registers
    /// alongside the plugins found in the plugins folder, under the same duplicate-name rules.</summary>
    public IsolaHostBuilder AddPlugin(IIsolaPlugin plugin)
    {
        ArgumentNullException.ThrowIfNull(plugin);
        _inProcess.Add(plugin);
        return this;
    }

    /// <summary>Uses an existing logger factory (an application's) instead of the builder's logging.</summary>
    internal IsolaHostBuilder UseLoggerFactory(ILoggerFactory loggerFactory)
    {
        _externalLoggerFactory = loggerFactory;
        return this;
    }

    /// <summary>The image store this configuration names (<c>Images:Root</c>, default <c>&lt;Isola:Root&gt;/images</c>),
    /// opened without starting the host: image commands need no plugin.</summary>
    public IImageStore OpenImages() => ImageSettings.Open(Configuration, IsolaSettings.Read(Configuration));

    /// <summary>Loads the plugins, validates the configuration, recovers the persisted sandboxes and returns the
    /// running host. Fails with an <see cref="IsolaException"/> naming the configuration key or plugin folder at fault.</summary>
    public async Task<IsolaHost> StartAsync(CancellationToken ct = default)
    {
        var (loggerFactory, provider) = CreateLoggerFactory();
        HostServices? services = null;
        try
        {
            // The assembly's name. Logging filters match category prefixes, so a filter written for the old name,
            // "Isola.Host", still applies.
            var logger = loggerFactory.CreateLogger("Isola.Hosting");
            var settings = IsolaSettings.Read(Configuration);
            var catalog = new PluginCatalog();
            LoadPluginFolders(settings, catalog, logger);
            foreach (var plugin in _inProcess)
            {
                var version = plugin.GetType().Assembly.GetName().Version?.ToString() ?? "0.0.0.0";
                catalog.Register(plugin, "", version);
            }

            var runtimes = RuntimeTableBuilder.Build(Configuration, settings, catalog, loggerFactory);
            if (settings.Recovery == RecoveryMode.Full)
            {
                // A long-running host builds every controller now, so a configuration it cannot serve stops it from
                // starting. A short-lived one (OnDemand) builds only those of the runtimes it uses.
                runtimes.EnsureAllControllers();
            }

            services = new HostServices(settings, runtimes, catalog, loggerFactory, () => ImageSettings.Open(Configuration, settings),
                ImageSettings.RootOf(Configuration, settings), Networks.NetworkSettings.Read(Configuration));
            await services.Recovery.RecoverAsync(ct).ConfigureAwait(false);
            if (settings.Recovery == RecoveryMode.Full)
            {
                await services.ReconcileOrphansAsync(ct).ConfigureAwait(false);
            }
            logger.LogDebug("host started: {Plugins} plugins, {Runtimes} runtimes, root {Root}", catalog.Plugins.Count, runtimes.Count, settings.Root);
            return new IsolaHost(services, runtimes.SortedByName(), catalog, loggerFactory, provider);
        }
        catch
        {
            if (services is not null)
            {
                await services.DisposeAsync().ConfigureAwait(false);
            }

            if (provider is not null)
            {
                await provider.DisposeAsync().ConfigureAwait(false);
            }

            throw;
        }
    }

    /// <summary>The logger factory and what disposes it (null when it is the application's).</summary>
    private (ILoggerFactory Factory, IAsyncDisposable? Owner) CreateLoggerFactory()
    {
        if (_externalLoggerFactory is not null)
        {
            return (_externalLoggerFactory, null);
        }

        // Nothing was added to Logging (no provider, no filter): the factory AddLogging would build, made directly.
        // Building a service provider just to resolve it cost ~13 ms of every short-lived host start.
        if (_services.SequenceEqual(_defaultLogging))
        {
            var factory = new LoggerFactory([], new LoggerFilterOptions { MinLevel = AddLoggingMinimumLevel });
            return (factory, new DisposesSynchronously(factory));
        }

        var provider = _services.BuildServiceProvider();
        return (provider.GetRequiredService<ILoggerFactory>(), provider);
    }

    private static void LoadPluginFolders(IsolaSettings settings, PluginCatalog catalog, ILogger logger)
    {
        if (!Directory.Exists(settings.PluginsDir))
        {
            if (settings.PluginsDirExplicit)
            {
                throw IsolaException.InvalidArgument($"{IsolaSettings.Section}:PluginsDir: the folder '{settings.PluginsDir}' does not exist");
            }

            logger.LogDebug("no plugins folder at {Dir}", settings.PluginsDir);
            return;
        }

        var loader = new PluginFolderLoader(logger);
        foreach (var (plugin, folder, version) in loader.LoadAll(settings.PluginsDir))
        {
            try
            {
                catalog.Register(plugin, folder, version);
            }
            catch (IsolaException e) when (!e.Message.Contains(folder, StringComparison.Ordinal))
            {
                throw new IsolaException(e.Code, $"plugin folder '{folder}': {e.Message}", e);
            }
        }
    }

    /// <summary>The minimum level AddLogging configures (its default filter).</summary>
    private const LogLevel AddLoggingMinimumLevel = LogLevel.Information;

    private sealed class DisposesSynchronously(IDisposable inner) : IAsyncDisposable
    {
        public ValueTask DisposeAsync()
        {
            inner.Dispose();
            return ValueTask.CompletedTask;
        }
    }

    private sealed class LoggingBuilder(IServiceCollection services) : ILoggingBuilder
    {
        public IServiceCollection Services { get; } = services;
    }
}
