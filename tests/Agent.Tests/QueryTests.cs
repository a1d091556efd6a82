using Google.Protobuf.WellKnownTypes;
using Isola.TaskApi.Protos.Sandbox;
using Isola.TaskApi.Protos.Task;
using Isola.Ttrpc;
using V1 = Isola.TaskApi.Protos.Cgroups.V1;
using V2 = Isola.TaskApi.Protos.Cgroups.V2;

namespace Isola.Agent.Tests;

public sealed class QueryTests : AgentTestBase
{
    [Fact]
    public async Task Kill_all_signals_every_process_of_the_container()
    {
        // sh (the namespace's init) ignores SIGTERM; --all also reaches the sleep, and sh then ends with its status.
        var (id, _, _, _) = await CreateAsync("killall", "sh", "-c", "sleep 1000; exit $?");
        await StartAsync(id);
        await WaitForPidsAsync(id, 2);
        await KillAsync(id, 15, all: true);
        Assert.Equal(143u, (await WaitAsync(id)).ExitStatus);
    }

    [Fact]
    public async Task Pids_lists_the_processes_of_the_container()
    {
        var (id, _, _, pid) = await CreateAsync("pids", "sh", "-c", "sleep 1000 & sleep 1000 & wait");
        await StartAsync(id);
        var pids = await WaitForPidsAsync(id, 3);
        Assert.Contains(pid, pids);
    }

    [Fact]
    public async Task Stats_reports_the_cgroup_of_the_container()
    {
        var (id, _, _, _) = await CreateAsync("stats", "sh", "-c", "sleep 1000 & sleep 1000 & wait");
        await StartAsync(id);
        await WaitForPidsAsync(id, 3);
        var stats = (await Agent.CallAsync("Stats", new StatsRequest { Id = id }, StatsResponse.Parser)).Stats;
        if (File.Exists("/sys/fs/cgroup/cgroup.controllers"))
        {
            Assert.Equal("io.containerd.cgroups.v2.Metrics", stats.TypeUrl);
            var metrics = V2.Metrics.Parser.ParseFrom(stats.Value);
            Assert.Equal(3ul, metrics.Pids.Current);
            Assert.True(metrics.Memory.Usage > 0);
        }
        else
        {
            Assert.Equal("io.containerd.cgroups.v1.Metrics", stats.TypeUrl);
            var metrics = V1.Metrics.Parser.ParseFrom(stats.Value);
            Assert.Equal(3ul, metrics.Pids.Current);
            Assert.True(metrics.Memory.Usage.Usage > 0, "memory usage is 0");
            Assert.True(metrics.Cpu.Usage.Total > 0, "cpu usage is 0");
        }
    }

    [Fact]
    public async Task Update_applies_new_limits_to_the_cgroup()
    {
        var (id, _, _, _) = await CreateAsync("update", "sleep", "1000");
        await StartAsync(id);
        await Agent.CallAsync("Update", new UpdateTaskRequest
        {
            Id = id,
            Resources = new Any
            {
                TypeUrl = "types.containerd.io/opencontainers/runtime-spec/1/LinuxResources",
                Value = Google.Protobuf.ByteString.CopyFromUtf8("{\"memory\":{\"limit\":67108864},\"pids\":{\"limit\":50}}"),
            },
        }, Empty.Parser);
        var v1 = "/sys/fs/cgroup/memory" + TestBundle.CgroupPath(id) + "/memory.limit_in_bytes";
        var limit = File.Exists(v1) ? v1 : "/sys/fs/cgroup" + TestBundle.CgroupPath(id) + "/memory.max";
        Assert.Equal("67108864", (await File.ReadAllTextAsync(limit)).Trim());

        var e = await Assert.ThrowsAsync<TtrpcException>(() => Agent.CallAsync("Update", new UpdateTaskRequest
        {
            Id = id,
            Resources = new Any { Value = Google.Protobuf.ByteString.CopyFromUtf8("[1]") },
        }, Empty.Parser));
        Assert.Equal(TtrpcStatusCode.InvalidArgument, e.Code);
        Assert.Contains(id, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CloseIO_is_accepted_for_a_known_process_and_NotFound_otherwise()
    {
        var (id, _, _, _) = await CreateAsync("closeio", "sh", "-c", "cat; echo done");
        await Agent.CallAsync("CloseIO", new CloseIORequest { Id = id, Stdin = true }, Empty.Parser);
        await StartAsync(id);
        Assert.Equal(0u, (await WaitAsync(id)).ExitStatus); // stdin was /dev/null: cat ended at once
        var e = await Assert.ThrowsAsync<TtrpcException>(() =>
            Agent.CallAsync("CloseIO", new CloseIORequest { Id = "nobody", Stdin = true }, Empty.Parser));
        Assert.Equal(TtrpcStatusCode.NotFound, e.Code);
    }

    [Fact]
    public async Task ResizePty_is_unimplemented_and_says_why()
    {
        var e = await Assert.ThrowsAsync<TtrpcException>(() =>
            Agent.CallAsync("ResizePty", new ResizePtyRequest { Id = "c1", Width = 80, Height = 24 }, Empty.Parser));
        Assert.Equal(TtrpcStatusCode.Unimplemented, e.Code);
        Assert.Contains("TTYs are not supported", e.Message, StringComparison.Ordinal);
        Assert.Contains("'c1'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Connect_reports_the_agent_pid_the_task_pid_and_a_version()
    {
        var (id, _, _, pid) = await CreateAsync("connect", "sleep", "1000");
        var r = await Agent.CallAsync("Connect", new ConnectRequest { Id = id }, ConnectResponse.Parser);
        Assert.Equal((uint)Agent.Pid, r.ShimPid);
        Assert.Equal(pid, r.TaskPid);
        Assert.False(string.IsNullOrEmpty(r.Version));
    }

    [Fact]
    public async Task Check_answers_ok()
    {
        await Agent.Client.CallAsync("grpc.SandboxService", "Check", new CheckRequest(), CheckResponse.Parser);
    }

    [Fact]
    public async Task Shutdown_stops_the_agent_in_host_mode()
    {
        await Agent.CallAsync("Shutdown", new ShutdownRequest { Id = "any" }, Empty.Parser);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!Agent.HasExited && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        Assert.True(Agent.HasExited, "the agent still runs 10 s after Shutdown");
    }

    private async Task<IReadOnlyList<uint>> WaitForPidsAsync(string id, int count)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            var pids = (await Agent.CallAsync("Pids", new PidsRequest { Id = id }, PidsResponse.Parser)).Processes.Select(p => p.Pid).ToList();
            if (pids.Count >= count || DateTime.UtcNow > deadline)
            {
                Assert.Equal(count, pids.Count);
                return pids;
            }

            await Task.Delay(50);
        }
    }
}
