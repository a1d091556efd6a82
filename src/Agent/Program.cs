using Isola;
using Isola.Agent;
using Isola.Agent.Guest;
using Isola.Agent.Native;
using Isola.Agent.Processes;
using Isola.Agent.Tasks;
using Isola.Ttrpc;
using Isola.Ttrpc.Server;
using Microsoft.Extensions.Logging;

AgentOptions options;
try
{
    options = AgentOptions.Parse(args, isPid1: Environment.ProcessId == 1);
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"isola-agent: {e.Message}\n{AgentOptions.Usage}");
    return 2;
}

var logger = new StderrLogger(options.Verbose ? LogLevel.Debug : LogLevel.Information);
try
{
    if (options.Guest)
    {
        GuestSetup.Run(logger);
    }

    if (Environment.ProcessId != 1 && LibC.prctl(LibC.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0)
    {
        // Without it, container processes are reparented to init once `runc create` exits (the host's, or the guest's
        // /init when that runs the agent), and their exits never reach the agent.
        throw new InvalidOperationException($"prctl(PR_SET_CHILD_SUBREAPER): {LibC.LastError()}");
    }

    Directory.CreateDirectory(options.Root);
    Directory.CreateDirectory(options.State);
    var reaper = new ChildReaper(logger);
    var runc = new Runc(options.ResolveRunc(), options.Root, options.NoPivot, reaper);
    var tasks = new TaskService(runc, reaper, new RootfsMounter(new BlockDeviceResolver()), new CgroupStats(), options.State, logger);
    await using var server = new TtrpcServer(logger) { ErrorStatus = TtrpcErrors.StatusOf };
    tasks.Register(server);

    if (options.Guest)
    {
        using var vsock = VsockListener.DevicePresent() ? VsockListener.TryStart(server, logger) : null;
        var serial = new SerialPortServer(server, logger);
        var serving = serial.RunAsync();
        if (vsock is null)
        {
            await serial.Ready.ConfigureAwait(false); // nothing is served until the port shows up
        }

        Console.Out.WriteLine($"ISOLA-AGENT-READY {GuestSetup.UptimeSeconds()}");
        Console.Out.Flush();
        await Task.WhenAny(serving, tasks.ShutdownRequested).ConfigureAwait(false);
        await Task.Delay(100).ConfigureAwait(false); // lets the Shutdown answer leave
        GuestSetup.PowerOff(logger);
        return 0;
    }

    server.ListenUnix(options.Listen!);
    logger.LogInformation("serving the Task API on unix://{Path} (runc {Runc}, root {Root}, state {State})", options.Listen, runc.Binary, options.Root, options.State);
    await tasks.ShutdownRequested.ConfigureAwait(false);
    await Task.Delay(100).ConfigureAwait(false);
    return 0;
}
catch (Exception e) when (options.Guest || e is IsolaException or TtrpcException or InvalidOperationException or ArgumentException or IOException)
{
    logger.LogCritical("{Error}", e.Message);
    if (options.Guest)
    {
        // PID 1 exiting panics the kernel, which says nothing about why: the error above, then a clean power-off.
        GuestSetup.PowerOff(logger);
    }

    return 1;
}
