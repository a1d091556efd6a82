namespace Isola.Agent.Tests;

public sealed class ReapingTests : AgentTestBase
{
    [Fact]
    public async Task No_zombie_children_are_left_after_containers_and_their_orphans_exit()
    {
        // The background sleep outlives its shell inside the container's pid namespace only until the namespace's init
        // exits; in a shared pid namespace it is orphaned and reparented to the agent, the subreaper.
        var (id, _, _, _) = await CreateAsync("orphans", pidNamespace: false, "sh", "-c", "sleep 0.2 & exit 0");
        await StartAsync(id);
        Assert.Equal(0u, (await WaitAsync(id)).ExitStatus);
        await RunAsync("reap", "sh", "-c", "exit 1");
        // The orphaned sleep ends after 0.2 s; a slow machine gets 10 s. An unreaped child stays a zombie for good.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while ((Agent.ZombieChildren().Count > 0 || ChildrenOfAgent().Count > 0) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        Assert.Empty(Agent.ZombieChildren());
        Assert.Empty(ChildrenOfAgent());
    }

    private List<int> ChildrenOfAgent() =>
        Directory.EnumerateDirectories("/proc").Select(Path.GetFileName)
            .Where(n => n!.All(char.IsAsciiDigit))
            .Select(n => (Pid: int.Parse(n!), Stat: ReadStat(n!)))
            .Where(p => p.Stat is { } stat && stat.Split(") ")[^1].Split(' ')[1] == Agent.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture))
            .Select(p => p.Pid).ToList();

    private static string? ReadStat(string pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/stat");
        }
        catch (IOException)
        {
            return null;
        }
    }
}
