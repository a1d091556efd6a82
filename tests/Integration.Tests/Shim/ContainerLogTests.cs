namespace Isola.Integration.Tests.Shim;

/// <summary>What a container wrote is in its log files once Wait returns, even when the log driver lags behind.</summary>
public sealed class ContainerLogTests : IAsyncLifetime
{
    private const int SigStop = 19;
    private const int SigCont = 18;
    private ShimHost _host = null!;

    public async Task InitializeAsync() => _host = await ShimHost.StartAsync();

    public async Task DisposeAsync() => await _host.DisposeAsync();

    [Fact]
    public async Task Output_written_just_before_exit_is_in_the_log_when_Wait_returns_even_if_the_log_driver_lags()
    {
        var sandbox = await _host.Host.Sandboxes.RunAsync(new SandboxSpec());
        // 60000 bytes fit in a pipe: the container exits at once, its output still in the pipe while the logger is stopped.
        var c = await sandbox.Containers.RunAsync(new ContainerSpec { Rootfs = _host.Rootfs, Args = ["sh", "-c", "sleep 1; yes | head -c 60000"] });
        var stdout = Path.Combine(_host.Root, sandbox.Id.Value, "containers", c.Id.Value, "stdout.log");
        var logger = LoggerPid(stdout);
        Assert.Equal(0, ShimHost.Kill(logger, SigStop));
        try
        {
            Assert.Equal(0, new FileInfo(stdout).Length); // stopped before the container writes: the race is set up
            // The log's size the moment Wait returns; the logger is resumed only 3 s later.
            var waited = Task.Run(async () =>
            {
                await c.WaitAsync();
                return new FileInfo(stdout).Length;
            });
            await Task.WhenAny(waited, Task.Delay(TimeSpan.FromSeconds(3)));
            Assert.Equal(0, ShimHost.Kill(logger, SigCont));

            Assert.Equal(60000, await waited);
            Assert.Equal(ContainerState.Stopped, (await c.InspectAsync()).State);
            Assert.Equal(0u, (await c.WaitAsync()).Code); // a second Wait, after the task was deleted, still reports the exit
        }
        finally
        {
            ShimHost.Kill(logger, SigCont);
        }

        await c.DeleteAsync();
        await sandbox.RemoveAsync();
        Assert.Empty(_host.Leftovers(sandbox.Id.Value, [c.Id.Value], sandbox.Info.TaskAddress));
    }

    private static int LoggerPid(string stdoutLog) => ShimHost.ProcessWhere(cmdline =>
        cmdline.Contains("isola-logger", StringComparison.Ordinal) && cmdline.Contains(stdoutLog, StringComparison.Ordinal),
        $"the isola-logger writing {stdoutLog}");
}
