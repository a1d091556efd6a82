using Isola.Controllers;
using Isola.Executors;
using Isola.Plugins.Shim.Controller;
using Isola.Plugins.Shim.Events;
using Isola.Plugins.Shim.Launcher;
using Microsoft.Extensions.Logging.Abstractions;

namespace Isola.Plugins.Shim.Tests.Infrastructure;

/// <summary>
/// What a host SIGKILLed inside Start, during the pause's Task Create, leaves: the controller's Create done (and
/// persisted), the shim started by the controller's own launcher with the controller's settings, the pause task created
/// (so `runc init` waits on the exec FIFO), and then the host's connection and its reader of the shim's log FIFO gone.
/// The record holds only what Create put in the controller data: no shim address, version, shim pid or pause pid.
/// </summary>
internal static class CrashedStart
{
    /// <summary>Returns the shim's Task API address (as the shim wrote it into the bundle).</summary>
    public static async Task<string> RunAsync(PodHarness pods, SandboxContext sandbox)
    {
        await pods.Controller.CreateAsync(sandbox, CancellationToken.None);
        var bundle = sandbox.ControllerData[ControllerDataKeys.Bundle];
        var settings = pods.Settings;
        using var logs = new ShimLogDrain(NullLogger.Instance);
        logs.Attach(sandbox.Id.Value, Path.Combine(bundle, "log"), Path.Combine(sandbox.StateDirectory, "shim.log"));
        await using var events = new EventsEndpoint(settings.TtrpcAddress, serve: false, NullLogger.Instance);
        var started = await new ShimLauncher(events, NullLogger.Instance).StartAsync(sandbox.Id.Value, bundle, settings, CancellationToken.None);
        await using var client = await pods.Executor.ConnectAsync(TaskEndpoint.Parse(started.TaskAddress, started.Version), CancellationToken.None);
        await client.CreateAsync(new TaskCreateRequest
        {
            Id = sandbox.Id.Value,
            Bundle = bundle,
            Stdio = new StdioSpec("", "", ""),
            Options = RuncShimOptions.For(sandbox.ControllerData[ControllerDataKeys.Runtime]),
        }, CancellationToken.None);
        return started.TaskAddress;
    }
}
