using System.Text.Json;
using Isola.Agent.Processes;

namespace Isola.Agent.Tests;

/// <summary>Deleting a stopped container without runc: taken only when runc's delete would just remove the cgroup and
/// the state directory, else left to runc with nothing touched. A fake runc root and cgroup tree stand in for the
/// guest's (this host's runc state is cgroup v1, where the fast path never applies).</summary>
public sealed class StoppedContainerTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("isola-agent-stopped-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Root => Path.Combine(_dir, "runc");

    private string Cgroups => Path.Combine(_dir, "cgroup");

    [Fact]
    public void A_stopped_container_with_its_own_pid_namespace_on_cgroup_v2_loses_its_cgroup_and_state()
    {
        var cgroup = Path.Combine(Cgroups, "c1");
        Directory.CreateDirectory(Path.Combine(cgroup, "sub", "deeper"));
        WriteState("c1", State(cgroup));

        Assert.True(StoppedContainer.TryDestroy(Root, "c1", Cgroups));
        Assert.False(Directory.Exists(cgroup));
        Assert.False(Directory.Exists(Path.Combine(Root, "c1")));
        Assert.True(Directory.Exists(Cgroups));
    }

    [Theory]
    [InlineData("v1")]
    [InlineData("no-pid-namespace")]
    [InlineData("shared-pid-namespace")]
    [InlineData("poststop")]
    [InlineData("intel-rdt")]
    [InlineData("systemd")]
    [InlineData("rootless")]
    [InlineData("outside")]
    [InlineData("dotdot")]
    [InlineData("corrupt")]
    public void Anything_else_is_left_to_runc_untouched(string variant)
    {
        var cgroup = Path.Combine(Cgroups, "c1");
        Directory.CreateDirectory(Path.Combine(cgroup, "sub"));
        var state = variant switch
        {
            "v1" => State(cgroup, paths: $"{{\"\":\"{cgroup}\",\"memory\":\"{Cgroups}/memory/c1\"}}"),
            "no-pid-namespace" => State(cgroup, namespaces: "[{\"type\":\"NEWNS\",\"path\":\"\"}]"),
            "shared-pid-namespace" => State(cgroup, namespaces: "[{\"type\":\"NEWPID\",\"path\":\"/proc/1/ns/pid\"}]"),
            "poststop" => State(cgroup, hooks: "{\"poststop\":[{\"path\":\"/bin/true\"}]}"),
            "intel-rdt" => State(cgroup, extra: ",\"intel_rdt\":{\"closID\":\"x\"}"),
            "systemd" => State(cgroup, systemd: true),
            "rootless" => State(cgroup).Replace("\"rootless\":false", "\"rootless\":true", StringComparison.Ordinal),
            "outside" => State("/elsewhere/c1"),
            "dotdot" => State(Cgroups + "/../c1"),
            _ => "{\"config\":",
        };
        WriteState("c1", state);

        Assert.False(StoppedContainer.TryDestroy(Root, "c1", Cgroups));
        Assert.True(Directory.Exists(Path.Combine(cgroup, "sub")));
        Assert.True(File.Exists(Path.Combine(Root, "c1", "state.json")));
    }

    [Fact]
    public void No_state_file_is_left_to_runc() => Assert.False(StoppedContainer.TryDestroy(Root, "missing", Cgroups));

    [Fact]
    public void Empty_hooks_do_not_stop_the_fast_path()
    {
        var cgroup = Path.Combine(Cgroups, "c2");
        using var state = JsonDocument.Parse(State(cgroup, hooks: "{\"prestart\":null,\"poststop\":[]}"));
        Assert.True(StoppedContainer.Eligible(state.RootElement, Cgroups, out var path));
        Assert.Equal(cgroup, path);
    }

    private void WriteState(string id, string json)
    {
        Directory.CreateDirectory(Path.Combine(Root, id));
        File.WriteAllText(Path.Combine(Root, id, "state.json"), json);
    }

    /// <summary>The parts of runc 1.1's state.json the fast path reads, shaped as runc writes them.</summary>
    private static string State(string cgroup, string? paths = null, string namespaces = "[{\"type\":\"NEWPID\",\"path\":\"\"},{\"type\":\"NEWNS\",\"path\":\"\"}]",
        string hooks = "null", bool systemd = false, string extra = "") =>
        $"{{\"id\":\"c1\",\"init_process_pid\":0,\"rootless\":false,\"cgroup_paths\":{paths ?? $"{{\"\":\"{cgroup}\"}}"},\"intel_rdt_path\":\"\"," +
        $"\"config\":{{\"namespaces\":{namespaces},\"Hooks\":{hooks},\"intel_rdt\":null,\"rootless_euid\":false," +
        $"\"cgroups\":{{\"path\":\"\",\"Systemd\":{(systemd ? "true" : "false")}}}{extra}}}}}";
}
