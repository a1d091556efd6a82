using System.Globalization;
using System.Diagnostics;
using Isola.Plugins.Shim.Controller;
using Isola.Plugins.Shim.Tests.Infrastructure;

namespace Isola.Plugins.Shim.Tests;

/// <summary>Status says not ready once the pause is dead, even while its shim still answers Running or has lost track
/// of the task; the recorded pause pid and start time are the cheap, exact check.</summary>
[Collection(ShimCollection.Name)]
public sealed class PauseLivenessTests : IAsyncLifetime
{
    private readonly PodHarness _pods = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _pods.DisposeAsync();

    [Fact]
    public async Task A_dead_pause_is_not_ready_while_its_shim_still_reports_it_running()
    {
        var sandbox = await _pods.RunSandboxAsync();
        var pause = int.Parse(sandbox.ControllerData[ControllerDataKeys.PausePid], CultureInfo.InvariantCulture);
        await using var client = await _pods.TaskClientAsync(sandbox);
        // While another process traces the pause, the pause's exit is reported to that tracer alone: the shim (its
        // parent) hears of it only once the tracer reaps it. So the pause dies and the shim goes on reporting it running,
        // as a shim that has not reaped an exit yet does. (Not this process as the tracer: .NET may reap any child.)
        using var tracer = StartTracer(pause);
        try
        {
            Assert.Equal(0, Native.LibC.kill(pause, 9));
            for (var i = 0; i < 200 && !Leftovers.Gone(pause); i++)
            {
                await Task.Delay(10);
            }

            var reported = await client.StateAsync(sandbox.Id.Value, null, CancellationToken.None);
            var status = await _pods.Controller.StatusAsync(sandbox, false, CancellationToken.None);

            Assert.True(Leftovers.Gone(pause), $"pause pid {pause} did not die");
            Assert.Equal(Executors.TaskStatus.Running, reported.Status); // the shim does not know yet
            Assert.False(status.Ready);
            Assert.Equal(0u, status.Pid);
            Assert.Contains($"pause pid {pause} is gone", status.Info["reason"]);
        }
        finally
        {
            tracer.StandardInput.Close(); // it reaps the pause and exits: the shim then hears of the exit
            tracer.WaitForExit();
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var exit = await _pods.Controller.WaitAsync(sandbox, timeout.Token);
        Assert.Equal(137u, exit.Code);
        await _pods.TeardownAsync(sandbox);
    }

    [Fact]
    public async Task A_shim_without_the_pause_task_is_not_ready_rather_than_not_found()
    {
        var sandbox = await _pods.RunSandboxAsync();
        await using var client = await _pods.TaskClientAsync(sandbox);
        await client.KillAsync(sandbox.Id.Value, null, 9, false, CancellationToken.None);
        await client.WaitAsync(sandbox.Id.Value, null, CancellationToken.None);
        await client.DeleteAsync(sandbox.Id.Value, null, CancellationToken.None);

        var status = await _pods.Controller.StatusAsync(sandbox, false, CancellationToken.None);

        Assert.False(status.Ready);
        Assert.Equal("the shim has no pause task", status.Info["reason"]);
        await _pods.TeardownAsync(sandbox);
        Assert.Empty(Leftovers.Of(sandbox, [], Leftovers.SocketOf(sandbox.TaskAddress)));
    }

    [Fact]
    public async Task Start_records_the_pause_start_time_which_tells_the_pause_from_a_reused_pid()
    {
        var sandbox = await _pods.RunSandboxAsync();
        var pid = uint.Parse(sandbox.ControllerData[ControllerDataKeys.PausePid], CultureInfo.InvariantCulture);
        var recorded = ulong.Parse(sandbox.ControllerData[ControllerDataKeys.PauseStartTime], CultureInfo.InvariantCulture);
        var stat = await File.ReadAllTextAsync($"/proc/{pid}/stat");

        Assert.Equal(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[19], recorded.ToString(CultureInfo.InvariantCulture)); // field 22
        Assert.True(PauseProcess.IsAlive(pid, null, recorded));
        Assert.False(PauseProcess.IsAlive(pid, null, recorded + 1)); // same pid, another process
        sandbox.ControllerData[ControllerDataKeys.PauseStartTime] = (recorded + 1).ToString(CultureInfo.InvariantCulture);
        Assert.False((await _pods.Controller.StatusAsync(sandbox, false, CancellationToken.None)).Ready);
        await _pods.TeardownAsync(sandbox);
    }

    [Fact]
    public async Task Start_waits_for_the_pause_itself_to_catch_SIGTERM_not_for_runc_init_before_its_exec()
    {
        // runc init is a Go program whose runtime catches SIGTERM, and Task Start may return before it execs the pause:
        // a SIGTERM it takes is lost. A process that catches SIGTERM but is not the pause must not count.
        using var other = Process.Start("sh", ["-c", "trap 'exit 0' TERM; while :; do sleep 0.05; done"]);
        try
        {
            for (var i = 0; i < 100 && !CatchesSigTerm(other.Id); i++)
            {
                await Task.Delay(10);
            }

            Assert.True(CatchesSigTerm(other.Id), "the stand-in does not catch SIGTERM");
            Assert.False(PauseSignals.IsReady((uint)other.Id));
        }
        finally
        {
            other.Kill();
        }

        var sandbox = await _pods.RunSandboxAsync();
        Assert.True(PauseSignals.IsReady(uint.Parse(sandbox.ControllerData[ControllerDataKeys.PausePid], CultureInfo.InvariantCulture)));
        await _pods.TeardownAsync(sandbox);
    }

    private static bool CatchesSigTerm(int pid) =>
        File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("SigCgt:", StringComparison.Ordinal)) is var line &&
        (ulong.Parse(line[7..].Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture) & (1UL << 14)) != 0;

    // A tracer in C: PTRACE_SEIZE the pid, say so, wait for stdin to close, then reap the tracee and exit.
    private Process StartTracer(int pid)
    {
        var source = Path.Combine(_pods.StateRoot, "tracer.c");
        var binary = Path.Combine(_pods.StateRoot, "tracer");
        File.WriteAllText(source, """
            #include <stdio.h>
            #include <stdlib.h>
            #include <sys/ptrace.h>
            #include <sys/wait.h>
            #include <unistd.h>
            int main(int argc, char **argv) {
                pid_t pid = atoi(argv[1]);
                char c;
                if (argc < 2 || ptrace(PTRACE_SEIZE, pid, 0, 0) != 0) { perror("ptrace"); return 1; }
                puts("seized");
                fflush(stdout);
                while (read(0, &c, 1) > 0) {}
                waitpid(pid, 0, __WALL);
                return 0;
            }
            """);
        using (var gcc = Process.Start("gcc", ["-O2", "-o", binary, source]))
        {
            gcc.WaitForExit();
            Assert.Equal(0, gcc.ExitCode);
        }

        var tracer = Process.Start(new ProcessStartInfo(binary, [pid.ToString(CultureInfo.InvariantCulture)])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
        })!;
        Assert.Equal("seized", tracer.StandardOutput.ReadLine());
        return tracer;
    }
}
