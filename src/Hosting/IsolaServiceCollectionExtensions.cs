using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Isola.Hosting;

/// <summary>Registers Isola in a Microsoft.Extensions.Hosting application.</summary>
public static class IsolaServiceCollectionExtensions
{
    /// <summary>Registers <see cref="IIsola"/>, started with the application (a hosted service) from the
    /// <c>Isola</c> section of <paramref name="configuration"/> and the application's logging. Resolving
    /// <see cref="IIsola"/> before the application has started throws FailedPrecondition.</summary>
    public static IServiceCollection AddIsola(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddSingleton(sp => new IsolaHostedService(configuration, sp.GetService<ILoggerFactory>()));
        services.AddHostedService(sp => sp.GetRequiredService<IsolaHostedService>());
        services.AddSingleton<IIsola>(sp => sp.GetRequiredService<IsolaHostedService>().Host);
        return services;
    }

    /// <summary>Starts the host with the application and disposes it when the application stops.</summary>
    internal sealed class IsolaHostedService(IConfiguration configuration, ILoggerFactory? loggerFactory) : IHostedService, IAsyncDisposable
    {
        private IsolaHost? _host;

        public IsolaHost Host => _host
            ?? throw IsolaException.FailedPrecondition("Isola is not started yet: resolve IIsola after the application has started");

        public async Task StartAsync(CancellationToken cancellationToken)
        {
            var builder = new IsolaHostBuilder(new ConfigurationManager());
            builder.Configuration.AddConfiguration(configuration);
            if (loggerFactory is not null)
            {
                builder.UseLoggerFactory(loggerFactory);
            }

            _host = await builder.StartAsync(cancellationToken).ConfigureAwait(false);
        }

        public async Task StopAsync(CancellationToken cancellationToken) => await DisposeAsync().ConfigureAwait(false);

        public async ValueTask DisposeAsync()
        {
            var host = Interlocked.Exchange(ref _host, null);
            if (host is not null)
            {
                await host.DisposeAsync().ConfigureAwait(false);
            }
        }
    }
}
