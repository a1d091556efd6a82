using Isola.TaskApi.Protos.Task;
using Isola.TaskApi.Protos.Types;
using Isola.Ttrpc;

namespace Isola.Agent.Tests;

public sealed class ContainerLifecycleTests : AgentTestBase
{
    [Fact]
    public async Task A_container_prints_a_line_that_is_in_its_stdout_file_when_Wait_returns()
    {
        var (id, stdout, _, pid) = await CreateAsync("echo", "sh", "-c", "echo hello from isola-agent");
        Assert.NotEqual(0u, pid);
        var started = await StartAsync(id);
        Assert.Equal(pid, started.Pid);
        var exit = await WaitAsync(id);
        Assert.Equal(0u, exit.ExitStatus);
        Assert.NotNull(exit.ExitedAt);
        Assert.Equal("hello from isola-agent\n", await File.ReadAllTextAsync(stdout));
        var deleted = await DeleteAsync(id);
        Assert.Equal(pid, deleted.Pid);
        Assert.Equal(0u, deleted.ExitStatus);
        AssertNothingLeft(id);
    }

    [Fact]
    public async Task An_exit_code_is_carried_back()
    {
        var (status, _) = await RunAsync("exit3", "sh", "-c", "exit 3");
        Assert.Equal(3u, status);
    }

    [Fact]
    public async Task Stderr_goes_to_its_own_file_and_output_is_appended_not_truncated()
    {
        var (id, stdout, stderr, _) = await CreateAsync("stderr", "sh", "-c", "echo out; echo err >&2");
        await File.WriteAllTextAsync(stdout, "before\n");
        await StartAsync(id);
        await WaitAsync(id);
        Assert.Equal("before\nout\n", await File.ReadAllTextAsync(stdout));
        Assert.Equal("err\n", await File.ReadAllTextAsync(stderr));
    }

    [Fact]
    public async Task SIGTERM_ends_a_sleep_with_143_and_SIGKILL_with_137()
    {
        // The kernel drops a signal without a handler sent to a pid namespace's init (SIGKILL from outside excepted), so
        // the SIGTERM case runs in the host's pid namespace, where sleep dies of it.
        var (term, _, _, _) = await CreateAsync("term", pidNamespace: false, "sleep", "1000");
        var (kill, _, _, _) = await CreateAsync("kill", "sleep", "1000");
        await StartAsync(term);
        await StartAsync(kill);
        await KillAsync(term, 15);
        await KillAsync(kill, 9);
        Assert.Equal(143u, (await WaitAsync(term)).ExitStatus);
        Assert.Equal(137u, (await WaitAsync(kill)).ExitStatus);
        Assert.Equal(143u, (await DeleteAsync(term)).ExitStatus);
        Assert.Equal(137u, (await DeleteAsync(kill)).ExitStatus);
        AssertNothingLeft(term);
        AssertNothingLeft(kill);
    }

    [Fact]
    public async Task Two_containers_run_at_once()
    {
        var first = await CreateAsync("one", "sh", "-c", "sleep 1; echo one");
        var second = await CreateAsync("two", "sh", "-c", "sleep 1; echo two");
        await StartAsync(first.Id);
        await StartAsync(second.Id);
        Assert.Equal(Status.Running, (await StateAsync(first.Id)).Status);
        Assert.Equal(Status.Running, (await StateAsync(second.Id)).Status);
        var waits = await Task.WhenAll(WaitAsync(first.Id), WaitAsync(second.Id));
        Assert.All(waits, w => Assert.Equal(0u, w.ExitStatus));
        Assert.Equal("one\n", await File.ReadAllTextAsync(first.Stdout));
        Assert.Equal("two\n", await File.ReadAllTextAsync(second.Stdout));
    }

    [Fact]
    public async Task State_reports_created_running_and_stopped_with_the_exit()
    {
        var (id, stdout, _, pid) = await CreateAsync("state", "sh", "-c", "read line; exit 7");
        var created = await StateAsync(id);
        Assert.Equal(Status.Created, created.Status);
        Assert.Equal(pid, created.Pid);
        Assert.Equal("file://" + stdout, created.Stdout);
        Assert.EndsWith(id, created.Bundle, StringComparison.Ordinal);
        await StartAsync(id);
        await WaitAsync(id); // stdin is /dev/null: read sees EOF at once
        var stopped = await StateAsync(id);
        Assert.Equal(Status.Stopped, stopped.Status);
        Assert.Equal(7u, stopped.ExitStatus);
        Assert.NotNull(stopped.ExitedAt);
    }

    [Fact]
    public async Task Start_goes_through_runcs_exec_fifo_and_runc_then_sees_the_container_running()
    {
        var (id, _, _, _) = await CreateAsync("fifo", "sleep", "600");
        var fifo = Path.Combine(Agent.RuncRoot, id, "exec.fifo");
        var before = File.Exists(fifo);

        await StartAsync(id);
        var state = await RuncStateAsync(id);
        await KillAsync(id, 9);
        var exit = await WaitAsync(id);

        Assert.True(before, "runc create leaves the exec fifo the agent starts the container through");
        Assert.False(File.Exists(fifo), "the fifo is removed once the container runs, as runc start does");
        Assert.Contains("\"status\": \"running\"", state);
        Assert.Equal(137u, exit.ExitStatus);
    }

    private async Task<string> RuncStateAsync(string id)
    {
        using var runc = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("runc", ["--root", Agent.RuncRoot, "state", id])
        {
            RedirectStandardOutput = true,
        })!;
        var output = await runc.StandardOutput.ReadToEndAsync();
        await runc.WaitForExitAsync();
        return output;
    }

    [Fact]
    public async Task Deleting_a_created_container_that_never_started_cleans_up()
    {
        var (id, _, _, _) = await CreateAsync("never", "sleep", "1000");
        await DeleteAsync(id);
        AssertNothingLeft(id);
        await Assert.ThrowsAsync<TtrpcException>(() => StateAsync(id));
    }

    [Fact]
    public async Task Delete_of_a_running_container_is_refused()
    {
        var (id, _, _, _) = await CreateAsync("running", "sleep", "1000");
        await StartAsync(id);
        var e = await Assert.ThrowsAsync<TtrpcException>(() => DeleteAsync(id));
        Assert.Equal(TtrpcStatusCode.FailedPrecondition, e.Code);
        Assert.Contains(id, e.Message, StringComparison.Ordinal);
    }
}
