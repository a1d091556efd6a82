using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Isola.TaskApi.Protos.Task;
using Isola.TaskApi.Protos.Types;
using Isola.Ttrpc;

namespace Isola.Agent.Tests;

public sealed class ExecTests : AgentTestBase
{
    [Fact]
    public async Task An_exec_returns_its_output_and_exit_code()
    {
        var (id, _, _, _) = await CreateAsync("exec", "sleep", "1000");
        await StartAsync(id);
        var output = Path.Combine(WorkDir, "exec.out");
        await ExecAsync(id, "e1", output, "sh", "-c", "echo from exec; hostname; exit 5");
        Assert.Equal(Status.Created, (await StateAsync(id, "e1")).Status);
        var started = await StartAsync(id, "e1");
        Assert.NotEqual(0u, started.Pid);
        var exit = await WaitAsync(id, "e1");
        Assert.Equal(5u, exit.ExitStatus);
        Assert.Equal($"from exec\n{id}\n", await File.ReadAllTextAsync(output));
        var state = await StateAsync(id, "e1");
        Assert.Equal(Status.Stopped, state.Status);
        Assert.Equal(5u, state.ExitStatus);
        var deleted = await DeleteAsync(id, "e1");
        Assert.Equal(5u, deleted.ExitStatus);
        Assert.Equal(started.Pid, deleted.Pid);
        var e = await Assert.ThrowsAsync<TtrpcException>(() => StateAsync(id, "e1"));
        Assert.Equal(TtrpcStatusCode.NotFound, e.Code);
        Assert.Contains("'e1'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Deleting_an_exec_that_never_started_releases_its_waiters()
    {
        var (id, _, _, _) = await CreateAsync("exec-del", "sleep", "1000");
        await StartAsync(id);
        await ExecAsync(id, "idle", "", "true");
        var waiting = WaitAsync(id, "idle");
        await Task.Delay(200);
        Assert.False(waiting.IsCompleted);
        var deleted = await DeleteAsync(id, "idle");
        Assert.Equal(0u, deleted.Pid);
        Assert.Equal(255u, (await waiting.WaitAsync(TimeSpan.FromSeconds(10))).ExitStatus);
    }

    [Fact]
    public async Task An_exec_killed_with_SIGKILL_reports_137()
    {
        var (id, _, _, _) = await CreateAsync("exec-kill", "sleep", "1000");
        await StartAsync(id);
        await ExecAsync(id, "sleeper", "", "sleep", "1000");
        await StartAsync(id, "sleeper");
        Assert.Equal(Status.Running, (await StateAsync(id, "sleeper")).Status);
        await KillAsync(id, 9, execId: "sleeper");
        Assert.Equal(137u, (await WaitAsync(id, "sleeper")).ExitStatus);
    }

    [Fact]
    public async Task An_exec_of_a_missing_command_fails_at_Start_with_runcs_error()
    {
        var (id, _, _, _) = await CreateAsync("exec-nope", "sleep", "1000");
        await StartAsync(id);
        await ExecAsync(id, "nope", "", "/nope");
        var e = await Assert.ThrowsAsync<TtrpcException>(() => StartAsync(id, "nope"));
        Assert.Contains("exec 'nope' of container", e.Message, StringComparison.Ordinal);
        Assert.Contains("/nope", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', e.Message);
        Assert.Equal(255u, (await WaitAsync(id, "nope")).ExitStatus);
    }

    [Fact]
    public async Task Exec_refuses_a_terminal_a_duplicate_id_and_a_spec_that_is_not_json()
    {
        var (id, _, _, _) = await CreateAsync("exec-bad", "sleep", "1000");
        await StartAsync(id);
        var spec = new Any { TypeUrl = "types.containerd.io/opencontainers/runtime-spec/1/Process", Value = ByteString.CopyFromUtf8("{\"args\":[\"true\"],\"cwd\":\"/\"}") };
        var tty = await Assert.ThrowsAsync<TtrpcException>(() =>
            Agent.CallAsync("Exec", new ExecProcessRequest { Id = id, ExecId = "t", Terminal = true, Spec = spec }, Empty.Parser));
        Assert.Equal(TtrpcStatusCode.Unimplemented, tty.Code);
        Assert.Contains("'t'", tty.Message, StringComparison.Ordinal);

        await Agent.CallAsync("Exec", new ExecProcessRequest { Id = id, ExecId = "dup", Spec = spec }, Empty.Parser);
        var dup = await Assert.ThrowsAsync<TtrpcException>(() =>
            Agent.CallAsync("Exec", new ExecProcessRequest { Id = id, ExecId = "dup", Spec = spec }, Empty.Parser));
        Assert.Equal(TtrpcStatusCode.AlreadyExists, dup.Code);

        var notJson = await Assert.ThrowsAsync<TtrpcException>(() => Agent.CallAsync("Exec", new ExecProcessRequest
        {
            Id = id,
            ExecId = "j",
            Spec = new Any { TypeUrl = spec.TypeUrl, Value = ByteString.CopyFromUtf8("not json") },
        }, Empty.Parser));
        Assert.Equal(TtrpcStatusCode.InvalidArgument, notJson.Code);

        var badId = await Assert.ThrowsAsync<TtrpcException>(() =>
            Agent.CallAsync("Exec", new ExecProcessRequest { Id = id, ExecId = "../x", Spec = spec }, Empty.Parser));
        Assert.Equal(TtrpcStatusCode.InvalidArgument, badId.Code);
        Assert.Contains("'../x'", badId.Message, StringComparison.Ordinal);
    }
}
