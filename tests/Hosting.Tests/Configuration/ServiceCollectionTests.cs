using Isola.Hosting.Tests.Doubles;
using Isola.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Isola.Hosting.Tests.Configuration;

/// <summary>AddIsola: IIsola started and stopped with a generic-host application.</summary>
public sealed class ServiceCollectionTests : IDisposable
{
    private readonly TestRoot _t = new();

    public void Dispose() => _t.Dispose();

    [Fact]
    public async Task AddIsola_starts_the_host_with_the_application()
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection([new("Isola:Root", _t.Root), new("Isola:PluginsDir", _t.EmptyPluginsDir())])
            .Build();
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddIsola(configuration);
        await using var provider = services.BuildServiceProvider();
        var early = Assert.Throws<IsolaException>(() => provider.GetRequiredService<IIsola>());
        Assert.Equal(IsolaErrorCode.FailedPrecondition, early.Code);
        var hosted = provider.GetServices<IHostedService>().ToList();
        foreach (var service in hosted)
        {
            await service.StartAsync(default);
        }

        var isola = provider.GetRequiredService<IIsola>();
        Assert.Empty(await isola.Sandboxes.ListAsync());
        Assert.True(Directory.Exists(_t.Root));
        foreach (var service in hosted)
        {
            await service.StopAsync(default);
        }
    }
}
