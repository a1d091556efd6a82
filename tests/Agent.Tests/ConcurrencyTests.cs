using Isola.TaskApi.Protos.Task;

namespace Isola.Agent.Tests;

/// <summary>The reaper hands every exit to its own waiter, including exits that arrive before the agent has read the
/// process's pid file (an exec that ends at once).</summary>
public sealed class ConcurrencyTests : AgentTestBase
{
    [Fact]
    public async Task Containers_started_together_each_get_their_own_exit_code()
    {
        var runs = await Task.WhenAll(Enumerable.Range(1, 6).Select(i => RunAsync($"many{i}", "sh", "-c", $"echo {i}; exit {i}")));
        for (var i = 0; i < runs.Length; i++)
        {
            Assert.Equal((uint)(i + 1), runs[i].Status);
            Assert.Equal($"{i + 1}\n", runs[i].Stdout);
        }

        Assert.Empty(Agent.ZombieChildren());
    }

    [Fact]
    public async Task Execs_that_exit_at_once_are_matched_to_their_own_exit()
    {
        var (id, _, _, _) = await CreateAsync("quick", "sleep", "1000");
        await StartAsync(id);
        for (var i = 0; i < 8; i++)
        {
            await ExecAsync(id, $"q{i}", "", "sh", "-c", $"exit {10 + i}");
            await StartAsync(id, $"q{i}");
        }

        for (var i = 0; i < 8; i++)
        {
            Assert.Equal((uint)(10 + i), (await WaitAsync(id, $"q{i}")).ExitStatus);
        }
    }

    [Fact]
    public async Task The_Task_API_v3_service_name_is_served_too()
    {
        var (id, _, _, pid) = await CreateAsync("v3", "true");
        var state = await Agent.Client.CallAsync("containerd.task.v3.Task", "State", new StateRequest { Id = id }, StateResponse.Parser);
        Assert.Equal(pid, state.Pid);
    }
}
