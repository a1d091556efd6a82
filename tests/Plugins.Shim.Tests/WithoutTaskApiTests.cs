using Isola.Executors;
using Isola.Plugins.Shim.Controller;
using Isola.Plugins.Shim.Tests.Infrastructure;
using Isola.Vmm;

namespace Isola.Plugins.Shim.Tests;

/// <summary>
/// The controller drives its pause through the executor the host lends it. A host without the Task API plugin fails
/// Start as a precondition, naming the plugin (never NotFound, which would make the host forget a pod that runs), and
/// Shutdown still removes everything by `shim delete` and the last-resort cleanup.
/// </summary>
[Collection(ShimCollection.Name)]
public sealed class WithoutTaskApiTests
{
    [Fact]
    public async Task Start_fails_as_a_precondition_naming_the_task_api_plugin_and_Shutdown_leaves_nothing()
    {
        await using var pods = new PodHarness();
        await using var controller = pods.NewController(new NoExecutors());
        var sandbox = pods.NewContext();
        await controller.CreateAsync(sandbox, CancellationToken.None);

        var e = await Assert.ThrowsAsync<IsolaException>(() => controller.StartAsync(sandbox, CancellationToken.None));
        var socket = Leftovers.SocketOf(sandbox.ControllerData[ControllerDataKeys.Address]);
        await controller.ShutdownAsync(sandbox, CancellationToken.None);

        Assert.Equal(IsolaErrorCode.FailedPrecondition, e.Code);
        Assert.Contains("Isola.Plugins.TaskApi", e.Message);
        Assert.Contains(sandbox.Id.Value, e.Message);
        Assert.Empty(Leftovers.Of(sandbox, [], socket));
    }

    private sealed class NoExecutors : IPluginServices
    {
        public IVmm GetVmm(string name) => throw IsolaException.NotFound($"no VMM named '{name}'");

        public ITaskExecutor GetExecutor(string scheme) => throw IsolaException.NotFound($"no executor for task-address scheme '{scheme}'");
    }
}
