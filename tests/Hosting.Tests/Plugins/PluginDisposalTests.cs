using Isola.Controllers;
using Isola.Executors;
using Isola.Hosting.Tests.Configuration;
using Isola.Hosting.Tests.Doubles;
using Isola.Hosting;
using Isola.Plugins;
using Microsoft.Extensions.Configuration;

namespace Isola.Hosting.Tests.Plugins;

/// <summary>Disposing the host disposes what plugins registered: each disposable object once, even when it is
/// registered under several roles, and the others are left alone.</summary>
[Collection(EnvironmentCollection.Name)]
public sealed class PluginDisposalTests : IDisposable
{
    private readonly TestRoot _t = new();

    public void Dispose() => _t.Dispose();

    /// <summary>A controller factory that is also the executor of two schemes, and disposable.</summary>
    private sealed class DisposableFactoryAndExecutor : ISandboxControllerFactory, ITaskExecutor, IAsyncDisposable
    {
        public int Disposals { get; private set; }

        public string Name => "both";

        public IReadOnlyCollection<string> Schemes => ["both-a", "both-b"];

        public ISandboxController Create(ControllerContext context) => throw new NotSupportedException("not used");

        public Task<ITaskClient> ConnectAsync(TaskEndpoint endpoint, CancellationToken cancellationToken) => throw new NotSupportedException("not used");

        public ValueTask DisposeAsync()
        {
            Disposals++;
            return ValueTask.CompletedTask;
        }
    }

    private sealed class Plugin(DisposableFactoryAndExecutor both) : IIsolaPlugin
    {
        public string Name => "disposables";

        public void Register(IPluginRegistry registry)
        {
            registry.AddController(both);
            registry.AddExecutor(both);
        }
    }

    [Fact]
    public async Task Each_disposable_plugin_object_is_disposed_once()
    {
        var both = new DisposableFactoryAndExecutor();
        var builder = IsolaHost.CreateBuilder();
        builder.Configuration.AddInMemoryCollection(_t.Settings());
        builder.AddPlugin(new FakePlugin(_t.Controller, _t.Tasks));
        builder.AddPlugin(new Plugin(both));
        var host = await builder.StartAsync();

        await host.DisposeAsync();

        Assert.Equal(1, both.Disposals);
        Assert.Equal(1, _t.Controller.Disposals);
    }
}
