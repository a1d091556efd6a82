using System.Text.Json;
using Isola.Cli.Tests.Support;

namespace Isola.Cli.Tests;

/// <summary>isola container ... against the test plugin's scripted task service (echo / fail N / sleep).</summary>
[Collection(TestPluginCollection.Name)]
public sealed class ContainerCommandTests(TestPluginBuild plugin) : IDisposable
{
    private readonly CliWorld _w = new(plugin);
    private readonly string _rootfs = Path.GetTempPath();

    public void Dispose() => _w.Dispose();

    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    private async Task<string> SandboxAsync()
    {
        var id = _w.Id("pod");
        Assert.Equal(0, (await _w.RunAsync("sandbox", "run", "--id", id)).Code);
        return id;
    }

    [Fact]
    public async Task Run_waits_prints_the_output_and_exits_with_the_container_code()
    {
        var sb = await SandboxAsync();
        Assert.Equal((0, "hi there\n", ""), await _w.RunAsync("container", "run", sb, "--rootfs", _rootfs, "--id", "c1", "--", "echo", "hi", "there"));
        var failed = await _w.RunAsync("container", "run", sb, "--rootfs", _rootfs, "--id", "c2", "--", "fail", "3");
        Assert.Equal((3, ""), (failed.Code, failed.Out));
        Assert.Equal("failing\n", failed.Err);
        var ls = Lines((await _w.RunAsync("container", "ls", sb)).Out);
        Assert.Equal(["c1", "Stopped"], ls[1].Split(' ', StringSplitOptions.RemoveEmptyEntries)[..2]);
        Assert.Equal(["c2", "Stopped", "-", "3"], ls[2].Split(' ', StringSplitOptions.RemoveEmptyEntries)[..4]);
        Assert.Equal((0, "hi there\n", ""), await _w.RunAsync("container", "logs", sb, "c1"));
        Assert.Equal((0, "", "failing\n"), await _w.RunAsync("container", "logs", sb, "c2"));
    }

    [Fact]
    public async Task Rm_flag_deletes_the_container_after_it_exits()
    {
        var sb = await SandboxAsync();
        Assert.Equal(0, (await _w.RunAsync("container", "run", sb, "--rootfs", _rootfs, "--id", "once", "--rm", "--", "echo", "x")).Code);
        Assert.Equal("[]", (await _w.RunAsync("container", "ls", sb, "-o", "json")).Out.Trim());
        Assert.Contains(_w.Calls("Purge"), l => l.Contains(sb));
    }

    [Fact]
    public async Task Detached_container_inspect_exec_stop_and_rm_in_both_formats()
    {
        var sb = await SandboxAsync();
        Assert.Equal((0, "svc\n", ""), await _w.RunAsync("container", "run", sb, "--rootfs", _rootfs, "--id", "svc", "-d", "--", "sleep"));
        using (var doc = JsonDocument.Parse((await _w.RunAsync("container", "ls", sb, "-o", "json")).Out))
        {
            Assert.Equal("Running", Assert.Single(doc.RootElement.EnumerateArray()).GetProperty("state").GetString());
        }

        var inspect = await _w.RunAsync("container", "inspect", sb, "svc");
        Assert.Contains("Running", inspect.Out);
        Assert.Contains("sleep", inspect.Out);
        Assert.Equal((0, "from exec\n", ""), await _w.RunAsync("container", "exec", sb, "svc", "--", "echo", "from", "exec"));
        Assert.Equal(4, (await _w.RunAsync("container", "exec", sb, "svc", "--", "fail", "4")).Code);
        var rmRunning = await _w.RunAsync("container", "rm", sb, "svc");
        Assert.Equal(1, rmRunning.Code);
        Assert.Contains("'svc'", Assert.Single(Lines(rmRunning.Err)));
        Assert.Equal((0, "svc\n", ""), await _w.RunAsync("container", "stop", sb, "svc", "-t", "1"));
        using (var doc = JsonDocument.Parse((await _w.RunAsync("container", "inspect", sb, "svc", "-o", "json")).Out))
        {
            Assert.Equal("Stopped", doc.RootElement.GetProperty("state").GetString());
            Assert.Equal(143, doc.RootElement.GetProperty("exit").GetProperty("code").GetInt32());
        }

        Assert.Equal((0, "svc\n", ""), await _w.RunAsync("container", "rm", sb, "svc"));
        Assert.Single(Lines((await _w.RunAsync("container", "ls", sb)).Out));
    }

    [Fact]
    public async Task Run_options_reach_the_generated_OCI_spec()
    {
        var sb = await SandboxAsync();
        var run = await _w.RunAsync("container", "run", sb, "--rootfs", _rootfs, "--id", "opts", "-d", "-e", "A=1", "--cwd", "/srv",
            "--user", "1000:100", "--mount", "/var/tmp:/data:ro", "--read-only", "--", "sleep");
        Assert.Equal(0, run.Code);
        var config = Path.Combine(_w.Root, sb, "bundles", "opts", "config.json");
        using var doc = System.Text.Json.JsonDocument.Parse(await File.ReadAllTextAsync(config));
        var process = doc.RootElement.GetProperty("process");
        Assert.Contains("A=1", process.GetProperty("env").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal("/srv", process.GetProperty("cwd").GetString());
        Assert.Equal((1000, 100), (process.GetProperty("user").GetProperty("uid").GetInt32(), process.GetProperty("user").GetProperty("gid").GetInt32()));
        Assert.True(doc.RootElement.GetProperty("root").GetProperty("readonly").GetBoolean());
        var data = doc.RootElement.GetProperty("mounts").EnumerateArray().Single(m => m.GetProperty("destination").GetString() == "/data");
        Assert.Equal("/var/tmp", data.GetProperty("source").GetString());
        Assert.Equal(["rbind", "ro"], data.GetProperty("options").EnumerateArray().Select(o => o.GetString()));
        Assert.Equal(sb, doc.RootElement.GetProperty("annotations").GetProperty("io.kubernetes.cri.sandbox-id").GetString());
    }

    [Theory]
    [InlineData("--user", "root")]
    [InlineData("--mount", "relative:/data")]
    [InlineData("--mount", "/a:/b:rx")]
    [InlineData("-e", "NOVALUE")]
    public async Task Bad_run_options_are_one_line_naming_them(string option, string value)
    {
        var sb = await SandboxAsync();
        var result = await _w.RunAsync("container", "run", sb, "--rootfs", _rootfs, option, value, "--", "echo");
        Assert.Equal(IsolaCli.UsageError, result.Code);
        Assert.Contains($"'{value}'", Assert.Single(Lines(result.Err)));
        Assert.Empty(_w.Calls("Prepare"));
    }

    [Fact]
    public async Task Missing_containers_and_sandboxes_give_one_line_naming_them()
    {
        var sb = await SandboxAsync();
        foreach (var args in new[] { new[] { "logs", sb, "ghost" }, ["inspect", sb, "ghost"], ["stop", sb, "ghost"], ["rm", sb, "ghost"], ["exec", sb, "ghost", "--", "echo"] })
        {
            var result = await _w.RunAsync(["container", .. args]);
            Assert.Equal(1, result.Code);
            var line = Assert.Single(Lines(result.Err));
            Assert.Contains("container 'ghost'", line);
            Assert.Contains($"sandbox '{sb}'", line);
        }

        var missing = await _w.RunAsync("container", "run", "nosuch", "--rootfs", _rootfs, "--", "echo");
        Assert.Contains("sandbox 'nosuch' not found", Assert.Single(Lines(missing.Err)));
        var bad = await _w.RunAsync("container", "run", sb, "--rootfs", _rootfs, "--id", "../up", "--", "echo");
        Assert.Contains("invalid container id '../up'", Assert.Single(Lines(bad.Err)));
    }
}
