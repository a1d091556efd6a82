using System.Text.Json.Nodes;
using Isola.Hosting.Tests.Doubles;

namespace Isola.Hosting.Tests.Containers;

/// <summary>Containers routed to the executor of the sandbox's task-address scheme, with Prepare before, Purge after,
/// and rollback when a step fails. The task service double enforces containerd's rules.</summary>
public sealed class ContainerTests : IDisposable
{
    private readonly TestRoot _t = new();
    private readonly string _rootfs = Path.Combine(Path.GetTempPath(), "isola-rootfs-" + Guid.NewGuid().ToString("N"));

    public void Dispose() => _t.Dispose();

    public ContainerTests() => _t.Controller.TaskExists = id => _t.Tasks.Processes.ContainsKey(id);

    private async Task<(Hosting.IsolaHost Host, ISandbox Sandbox)> ReadyAsync()
    {
        var host = await _t.StartAsync();
        return (host, await host.Sandboxes.RunAsync(new SandboxSpec { Id = "sb1", Hostname = "pod" }));
    }

    private ContainerSpec Spec(string id = "c1") => new() { Id = id, Rootfs = _rootfs, Args = ["sh", "-c", "echo hi"], Env = ["A=1"] };

    [Fact]
    public async Task Run_prepares_creates_and_starts_through_the_sandbox_executor()
    {
        var (host, sandbox) = await ReadyAsync();
        await using var _ = host;
        var container = await sandbox.Containers.RunAsync(Spec());
        Assert.Equal(ContainerState.Running, container.Info.State);
        Assert.Equal(101u, container.Info.Pid);

        var prepared = Assert.Single(_t.Controller.Prepared.Values);
        Assert.Equal("c1", prepared.ContainerId);
        Assert.Null(prepared.ExecId);
        var oci = prepared.OciSpec;
        Assert.Equal("sb1", (string?)oci["annotations"]!["io.kubernetes.cri.sandbox-id"]);
        Assert.Equal("container", (string?)oci["annotations"]!["io.kubernetes.cri.container-type"]);
        Assert.Equal("pod", (string?)oci["hostname"]);

        var logs = Path.Combine(_t.Root, "sb1", "containers", "c1");
        Assert.Equal(new StdioSpec("", $"file://{logs}/stdout.log", $"file://{logs}/stderr.log"), container.Info.Stdio);
        var task = _t.Tasks.Processes["c1"];
        Assert.Equal(Path.Combine(_t.Root, "sb1", "bundles", "c1"), task.Bundle);
        Assert.Equal(container.Info.Stdio, task.Stdio);
        Assert.Equal(["Create c1", "Start c1"], _t.Tasks.Log);
        Assert.Equal(1, _t.Tasks.Connects);
        Assert.Equal(ContainerState.Running, (await sandbox.Containers.ListAsync()).Single().State);
    }

    [Fact]
    public async Task Wait_records_the_exit_and_delete_purges_and_forgets_it()
    {
        var (host, sandbox) = await ReadyAsync();
        await using var _ = host;
        var container = await sandbox.Containers.RunAsync(Spec());
        var waiting = container.WaitAsync();
        _t.Tasks.ExitProcess("c1", null, 3);
        Assert.Equal(3u, (await waiting).Code);
        var info = (await sandbox.Containers.ListAsync()).Single();
        Assert.Equal((ContainerState.Stopped, 3u), (info.State, info.Exit!.Code));
        await container.DeleteAsync();
        await container.DeleteAsync(); // idempotent
        Assert.Empty(await sandbox.Containers.ListAsync());
        Assert.Empty(_t.Controller.Prepared);
        Assert.Empty(_t.Tasks.Processes);
        Assert.False(Directory.Exists(Path.Combine(_t.Root, "sb1", "containers", "c1")));
        var e = await Assert.ThrowsAsync<IsolaException>(() => sandbox.Containers.GetAsync("c1"));
        Assert.Equal(IsolaErrorCode.NotFound, e.Code);
        Assert.Contains("container 'c1'", e.Message);
        Assert.Contains("sandbox 'sb1'", e.Message);
    }

    [Fact]
    public async Task Delete_refuses_a_running_container_unless_forced_and_Stop_sends_SIGTERM()
    {
        var (host, sandbox) = await ReadyAsync();
        await using var _ = host;
        var container = await sandbox.Containers.RunAsync(Spec());
        var e = await Assert.ThrowsAsync<IsolaException>(() => container.DeleteAsync());
        Assert.Equal(IsolaErrorCode.FailedPrecondition, e.Code);
        Assert.Contains("'c1'", e.Message);
        await container.DeleteAsync(force: true);
        Assert.Contains("Kill15 c1", _t.Tasks.Log);
        Assert.Empty(await sandbox.Containers.ListAsync());
        Assert.Empty(_t.Controller.Prepared);
    }

    [Fact]
    public async Task A_failing_task_Create_is_rolled_back_with_Purge()
    {
        var (host, sandbox) = await ReadyAsync();
        await using var _ = host;
        _t.Tasks.Failures["Create"] = IsolaException.Unavailable("fake task: shim socket closed");
        var e = await Assert.ThrowsAsync<IsolaException>(() => sandbox.Containers.RunAsync(Spec()));
        Assert.Contains("container 'c1'", e.Message);
        Assert.Contains("shim socket closed", e.Message);
        Assert.Equal(1, _t.Controller.Calls("Purge"));
        Assert.Empty(_t.Controller.Prepared);
        Assert.Empty(await sandbox.Containers.ListAsync());
        Assert.False(Directory.Exists(Path.Combine(_t.Root, "sb1", "containers", "c1")));
        // The id can be used again.
        await sandbox.Containers.RunAsync(Spec());
    }

    [Fact]
    public async Task A_failing_Start_deletes_the_task_and_purges()
    {
        var (host, sandbox) = await ReadyAsync();
        await using var _ = host;
        _t.Tasks.Failures["Start"] = IsolaException.Internal("fake task: exec format error");
        await Assert.ThrowsAsync<IsolaException>(() => sandbox.Containers.RunAsync(Spec()));
        Assert.Contains("Delete c1", _t.Tasks.Log);
        Assert.Empty(_t.Tasks.Processes);
        Assert.Empty(_t.Controller.Prepared);
        Assert.Empty(await sandbox.Containers.ListAsync());
    }

    [Fact]
    public async Task A_failing_Prepare_creates_no_task_and_no_record()
    {
        var (host, sandbox) = await ReadyAsync();
        await using var _ = host;
        _t.Controller.Fail("Prepare", IsolaException.Internal("fake: no space for the bundle"));
        await Assert.ThrowsAsync<IsolaException>(() => sandbox.Containers.RunAsync(Spec()));
        Assert.Empty(_t.Tasks.Log);
        Assert.Empty(await sandbox.Containers.ListAsync());
    }

    [Fact]
    public async Task Exec_prepares_runs_waits_and_purges_the_process()
    {
        var (host, sandbox) = await ReadyAsync();
        await using var _ = host;
        var container = await sandbox.Containers.RunAsync(Spec());
        var run = Task.Run(() => container.ExecAsync(new ExecSpec { ExecId = "e1", Args = ["ls"], Env = ["A=2"] }));
        await Until(() => _t.Tasks.Processes.ContainsKey("c1/e1") && _t.Tasks.Processes["c1/e1"].Status == Executors.TaskStatus.Running);
        var process = JsonNode.Parse(_t.Tasks.Processes["c1/e1"].ProcessJson!)!;
        Assert.Equal(["ls"], process["args"]!.AsArray().Select(n => (string?)n));
        Assert.Contains("A=2", process["env"]!.AsArray().Select(n => (string?)n));
        Assert.DoesNotContain("A=1", process["env"]!.AsArray().Select(n => (string?)n));
        Assert.Equal("e1", _t.Controller.Prepared.Values.Single(p => p.ExecId is not null).ExecId);
        // An exec without stdio gets the files the host names up front (what isola container exec follows).
        var logs = Path.Combine(_t.Root, "sb1", "containers", "c1");
        Assert.Equal(new StdioSpec("", $"file://{logs}/exec-e1.stdout.log", $"file://{logs}/exec-e1.stderr.log"), _t.Tasks.Processes["c1/e1"].Stdio);
        Assert.Equal(host.DefaultExecStdio(container, "e1"), _t.Tasks.Processes["c1/e1"].Stdio);
        _t.Tasks.ExitProcess("c1", "e1", 0);
        Assert.Equal(0u, (await run).Code);
        Assert.Contains("Delete c1/e1", _t.Tasks.Log);
        Assert.Single(_t.Controller.Prepared); // only the container's own preparation remains
    }

    [Theory]
    [InlineData("../x")]
    [InlineData("a/b")]
    [InlineData("")]
    public async Task DefaultExecStdio_refuses_an_exec_id_that_would_leave_the_container_directory(string execId)
    {
        var (host, sandbox) = await ReadyAsync();
        await using var _ = host;
        var container = await sandbox.Containers.RunAsync(Spec());
        var e = Assert.Throws<IsolaException>(() => host.DefaultExecStdio(container, execId));
        Assert.Equal(IsolaErrorCode.InvalidArgument, e.Code);
    }

    [Fact]
    public async Task Exec_in_a_stopped_container_is_refused()
    {
        var (host, sandbox) = await ReadyAsync();
        await using var _ = host;
        var container = await sandbox.Containers.RunAsync(Spec());
        await container.StopAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(143u, (await container.WaitAsync()).Code);
        var e = await Assert.ThrowsAsync<IsolaException>(() => container.ExecAsync(new ExecSpec { Args = ["ls"] }));
        Assert.Equal(IsolaErrorCode.FailedPrecondition, e.Code);
    }

    [Fact]
    public async Task Containers_need_a_Ready_sandbox()
    {
        var (host, sandbox) = await ReadyAsync();
        await using var _ = host;
        await sandbox.StopAsync();
        var e = await Assert.ThrowsAsync<IsolaException>(() => sandbox.Containers.RunAsync(Spec()));
        Assert.Equal(IsolaErrorCode.FailedPrecondition, e.Code);
        Assert.Contains("sandbox 'sb1'", e.Message);
        Assert.Contains("Stopped", e.Message);
    }

    [Fact]
    public async Task Stopping_the_sandbox_kills_its_running_containers_first()
    {
        var (host, sandbox) = await ReadyAsync();
        await using var _ = host;
        await sandbox.Containers.RunAsync(Spec());
        await sandbox.StopAsync();
        Assert.Contains("Kill9 c1", _t.Tasks.Log);
        var stopped = (await sandbox.Containers.ListAsync()).Single();
        Assert.Equal((ContainerState.Stopped, 137u), (stopped.State, stopped.Exit!.Code));
        await sandbox.RemoveAsync();
        Assert.Empty(_t.Controller.Prepared); // Shutdown released it
    }

    [Fact]
    public async Task Removing_a_Ready_sandbox_kills_deletes_then_purges_each_container()
    {
        var (host, sandbox) = await ReadyAsync();
        await using var _ = host;
        await sandbox.Containers.RunAsync(Spec("c1"));
        await sandbox.Containers.RunAsync(Spec("c2"));
        _t.Tasks.ExitProcess("c2", null, 0);
        await sandbox.RemoveAsync();
        var log = _t.Tasks.Log.ToList();
        Assert.True(log.IndexOf("Kill9 c1") < log.IndexOf("Delete c1"), string.Join(", ", log));
        Assert.DoesNotContain("Kill9 c2", log);
        Assert.Contains("Delete c2", log);
        Assert.Empty(_t.Tasks.Processes);
        Assert.Equal(2, _t.Controller.Calls("Purge"));
        Assert.Empty(_t.Controller.Live);
    }

    [Fact]
    public async Task A_task_address_no_executor_serves_is_an_error_naming_it()
    {
        _t.Controller.TaskAddress = "ttrpc+hvsock://x";
        var (host, sandbox) = await ReadyAsync();
        await using var _ = host;
        var e = await Assert.ThrowsAsync<IsolaException>(() => sandbox.Containers.RunAsync(Spec()));
        Assert.Equal(IsolaErrorCode.FailedPrecondition, e.Code);
        Assert.Contains("'ttrpc+hvsock://x'", e.Message);
        Assert.Contains("'ttrpc+hvsock'", e.Message);
        Assert.Empty(_t.Controller.Prepared);
    }

    [Theory]
    [InlineData("../c", "/rootfs")]
    [InlineData("c1", "relative/rootfs")]
    public async Task Bad_ids_and_relative_rootfs_are_refused(string id, string rootfs)
    {
        var (host, sandbox) = await ReadyAsync();
        await using var _ = host;
        var e = await Assert.ThrowsAsync<IsolaException>(() => sandbox.Containers.RunAsync(new ContainerSpec { Id = id, Rootfs = rootfs, Args = ["x"] }));
        Assert.Equal(IsolaErrorCode.InvalidArgument, e.Code);
        Assert.Empty(_t.Controller.Prepared);
    }

    [Fact]
    public async Task Duplicate_container_ids_are_refused()
    {
        var (host, sandbox) = await ReadyAsync();
        await using var _ = host;
        await sandbox.Containers.CreateAsync(Spec());
        var e = await Assert.ThrowsAsync<IsolaException>(() => sandbox.Containers.CreateAsync(Spec()));
        Assert.Equal(IsolaErrorCode.AlreadyExists, e.Code);
        Assert.Single(_t.Controller.Prepared);
    }

    [Fact]
    public async Task A_wedged_task_service_fails_with_DeadlineExceeded_within_Timeouts_Task_and_is_rolled_back()
    {
        await using var host = await _t.StartAsync(("Isola:Timeouts:Task", "2"));
        var sandbox = await host.Sandboxes.RunAsync(new SandboxSpec { Id = "sb1" });
        _t.Tasks.Hangs["Create"] = true; // blocks its thread and ignores the token
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var e = await Assert.ThrowsAsync<IsolaException>(() => sandbox.Containers.RunAsync(Spec()));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"took {clock.Elapsed}");
        Assert.Equal(IsolaErrorCode.DeadlineExceeded, e.Code);
        Assert.Contains("container 'c1' in sandbox 'sb1': Task Create", e.Message);
        Assert.Empty(await sandbox.Containers.ListAsync());
        Assert.Empty(_t.Controller.Prepared);
    }

    private static async Task Until(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not met in time");
            await Task.Delay(10);
        }
    }
}
