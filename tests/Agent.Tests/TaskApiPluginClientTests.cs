using Isola.Controllers;
using Isola.Executors;
using Isola.Plugins;
using Isola.Plugins.TaskApi;
using Isola.Vmm;

namespace Isola.Agent.Tests;

/// <summary>The agent driven by the host's own client: the task-api plugin's executor, registered as the host registers
/// it, over a real Unix socket. Every method the host uses, so the two sides agree on the wire (type urls, exit
/// statuses, the stats Any).</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class TaskApiPluginClientTests : AgentTestBase
{
    [Fact]
    public async Task Every_method_the_host_uses_works_through_the_task_api_plugins_client()
    {
        await using var client = await ConnectAsync();
        var id = TestBundle.NewId("plugin");
        var bundle = TestBundle.Create(WorkDir, id, ["sh", "-c", "echo hi; exec sleep 600"]);
        var stdout = Path.Combine(WorkDir, id + ".out");
        var stdio = new StdioSpec("", "file://" + stdout, "file://" + Path.Combine(WorkDir, id + ".err"));

        var pid = await client.CreateAsync(new TaskCreateRequest { Id = id, Bundle = bundle, Stdio = stdio }, default);
        Track(id);
        var created = await client.StateAsync(id, null, default);
        await client.StartAsync(id, null, default);
        var running = await client.StateAsync(id, null, default);
        var connect = await client.ConnectAsync(id, default);
        await client.ExecAsync(new TaskExecRequest
        {
            Id = id,
            ExecId = "e1",
            Stdio = stdio with { Stdout = "file://" + Path.Combine(WorkDir, id + ".exec") },
            ProcessSpecJson = """{"args":["sh","-c","echo in-exec; exit 4"],"cwd":"/","env":["PATH=/bin"],"user":{"uid":0,"gid":0}}""",
        }, default);
        await client.StartAsync(id, "e1", default);
        var execExit = await client.WaitAsync(id, "e1", default);
        var execDeleted = await client.DeleteAsync(id, "e1", default);
        var pids = await client.PidsAsync(id, default);
        var stats = await client.StatsAsync(id, default);
        await client.UpdateAsync(id, new LinuxResources { MemoryLimitBytes = 64 << 20 }, null, default);
        await client.CloseIOAsync(id, null, default);
        var resize = await Assert.ThrowsAsync<IsolaException>(() => client.ResizePtyAsync(id, null, 80, 24, default));
        await client.KillAsync(id, null, 9, all: false, default);
        var exit = await client.WaitAsync(id, null, default);
        var deleted = await client.DeleteAsync(id, null, default);
        Forget(id);
        var unknown = await Assert.ThrowsAsync<IsolaException>(() => client.StateAsync(id, null, default));

        Assert.Equal(Isola.Executors.TaskStatus.Created, created.Status);
        Assert.Equal(pid, created.Pid);
        Assert.Equal(Isola.Executors.TaskStatus.Running, running.Status);
        Assert.Equal((uint)Agent.Pid, connect.ShimPid);
        Assert.Equal(pid, connect.TaskPid);
        Assert.Equal(4u, execExit.Code);
        Assert.Equal(4u, execDeleted.Exit.Code);
        Assert.Equal("in-exec\n", await File.ReadAllTextAsync(Path.Combine(WorkDir, id + ".exec")));
        Assert.Contains(pid, pids);
        Assert.StartsWith("io.containerd.cgroups.v", stats.TypeUrl, StringComparison.Ordinal);
        Assert.NotEmpty(stats.Value);
        Assert.Equal(IsolaErrorCode.Unimplemented, resize.Code);
        Assert.Equal(137u, exit.Code);
        Assert.Equal(137u, deleted.Exit.Code);
        Assert.Equal("hi\n", await File.ReadAllTextAsync(stdout));
        Assert.Equal(IsolaErrorCode.NotFound, unknown.Code);
        Assert.Contains(id, unknown.Message, StringComparison.Ordinal);
    }

    private Task<ITaskClient> ConnectAsync() => PluginClient.ConnectAsync(Agent);
}
