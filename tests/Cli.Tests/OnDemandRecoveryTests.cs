using Isola.Cli.Tests.Support;

namespace Isola.Cli.Tests;

/// <summary>Each isola command is a short-lived host: it asks the controller only about the sandboxes it touches.</summary>
[Collection(TestPluginCollection.Name)]
public sealed class OnDemandRecoveryTests(TestPluginBuild plugin) : IDisposable
{
    private readonly CliWorld _w = new(plugin);

    public void Dispose() => _w.Dispose();

    [Fact]
    public async Task A_command_asks_status_of_the_sandbox_it_touches_only()
    {
        string[] ids = [_w.Id("a"), _w.Id("b"), _w.Id("c")];
        foreach (var id in ids)
        {
            Assert.Equal(0, (await _w.RunAsync("sandbox", "run", "--id", id)).Code);
        }

        File.Delete(_w.CallLog);
        Assert.Equal(0, (await _w.RunAsync("runtimes", "ls")).Code);
        Assert.Empty(_w.Calls("Status"));

        var inspect = await _w.RunAsync("sandbox", "inspect", ids[1]);
        Assert.Equal(0, inspect.Code);
        var statuses = _w.Calls("Status");
        Assert.Single(statuses); // once: looking the sandbox up already refreshed it
        Assert.All(statuses, line => Assert.Contains($" {ids[1]} ", line));

        File.Delete(_w.CallLog);
        var list = await _w.RunAsync("sandbox", "ls");
        Assert.Equal(0, list.Code);
        Assert.Equal(ids.Length, _w.Calls("Status").Count);
    }
}
