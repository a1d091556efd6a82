using Isola.Integration.Tests.Faults;
using Isola.TestSupport;

namespace Isola.Integration.Tests.Shim;

/// <summary>
/// Pods on a CNI pod network and containers from images, through the real <c>isola</c> command, the real shim and
/// runc, Debian's CNI plugins: what a user sees, what is left after removal, and a crash at the worst moment.
/// </summary>
[Collection(FaultCollection.Name)]
public sealed class PodNetworkImageTests : IDisposable
{
    private readonly string _bridge = "isoli" + Guid.NewGuid().ToString("N")[..6];
    private readonly string _subnet = $"10.{150 + Random.Shared.Next(40)}.{Random.Shared.Next(256)}";
    private readonly FaultWorld _w;

    /// <summary>Sandbox ids unique to this run: CNI names iptables chains after network and id.</summary>
    private readonly string _tag = Guid.NewGuid().ToString("N")[..6];

    public PodNetworkImageTests()
    {
        Peers.Require(("bridge", "containernetworking-plugins"), ("ip", "iproute2"), ("iptables", "iptables"));
        string? netDir = null;
        _w = new FaultWorld("netimg", root =>
        {
            netDir = Path.Combine(Path.GetDirectoryName(root)!, "net.d");
            return new Dictionary<string, string?>
            {
                ["Isola:Root"] = root,
                ["Isola:PluginsDir"] = Path.Combine(AppContext.BaseDirectory, "plugins"),
                ["Isola:DefaultRuntime"] = "runc",
                ["Isola:Runtimes:runc:Controller"] = "shim",
                ["Isola:Runtimes:runc:Options:Runtime"] = "runc",
                ["Isola:Runtimes:runc:Options:CgroupParent"] = "/isola-netimg",
                ["Isola:Timeouts:Stop"] = "00:00:02",
                ["Isola:Networks:ConfigDir"] = Path.Combine(Path.GetDirectoryName(root)!, "net.d"),
                ["Isola:Networks:Default"] = "it",
            };
        });
        Directory.CreateDirectory(Path.Combine(_w.Work, "net.d"));
        File.WriteAllText(Path.Combine(_w.Work, "net.d", "it.conflist"), $$"""
            { "cniVersion": "1.0.0", "name": "it", "plugins": [
              { "type": "bridge", "bridge": "{{_bridge}}", "isGateway": true, "ipMasq": true,
                "ipam": { "type": "host-local", "dataDir": "{{Path.Combine(_w.Work, "ipam")}}", "ranges": [[{ "subnet": "{{_subnet}}.0/24" }]], "routes": [{ "dst": "0.0.0.0/0" }] } },
              { "type": "portmap", "capabilities": { "portMappings": true }, "snat": true } ] }
            """);
    }

    public void Dispose()
    {
        // A failed test's pods: removed through isola, so CNI DEL runs (iptables rules and leases go too).
        foreach (var pod in _w.ListAsync().GetAwaiter().GetResult())
        {
            _w.IsolaAsync(null, "sandbox", "rm", pod.GetProperty("id").GetString()!).GetAwaiter().GetResult();
        }

        // A failed test's namespaces (named after this state root's tag) would otherwise outlive it.
        var tag = "isola-" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(Path.GetFullPath(_w.Root))))[..8] + "-";
        foreach (var netns in Directory.Exists("/run/netns") ? Directory.GetFiles("/run/netns", tag + "*") : [])
        {
            _ = Run("ip", "netns", "delete", Path.GetFileName(netns));
        }

        _ = Run("ip", "link", "delete", _bridge);
        _w.Dispose();
    }

    [Fact]
    public async Task A_container_from_an_image_runs_its_default_command_with_its_env_and_directory_and_leaves_no_mount()
    {
        await ImportAsync("localhost/it/app:v1", cmd: ["/bin/sh", "-c", "echo $GREETING in $(pwd); echo changed > /bin/busybox.note"]);
        await _w.MustAsync("sandbox", "run", "--id", "img");

        var run = await _w.MustAsync("container", "run", "img", "--rm", "--image", "localhost/it/app:v1");
        var overridden = await _w.MustAsync("container", "run", "img", "--rm", "--image", "localhost/it/app:v1", "-e", "GREETING=bye", "--", "/bin/sh", "-c", "echo $GREETING; busybox ls /bin/busybox.note || true");

        Assert.Equal("hi in /work", run.Stdout.Trim());
        Assert.StartsWith("bye", overridden.Stdout.Trim(), StringComparison.Ordinal);
        Assert.DoesNotContain("/bin/busybox.note\n", overridden.Stdout, StringComparison.Ordinal); // each container has its own layer
        Assert.DoesNotContain(File.ReadAllLines("/proc/self/mountinfo"), l => l.Contains(_w.Root, StringComparison.Ordinal) && l.Contains("overlay", StringComparison.Ordinal));
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(_w.Root, "images", "leases")));
        await _w.MustAsync("sandbox", "rm", "img");
    }

    [Fact]
    public async Task Pods_on_the_pod_network_reach_each_other_and_a_published_port_and_leave_nothing_once_removed()
    {
        await ImportAsync("localhost/it/web:v1", cmd: ["/bin/sh", "-c", "busybox mkdir -p /www && echo served-by-a > /www/index.html && exec busybox httpd -f -p 8080 -h /www"]);
        var hostPort = 20000 + Random.Shared.Next(20000);
        await _w.MustAsync("sandbox", "run", "--id", "neta" + _tag, "--network", "pod", "--publish", $"127.0.0.1:{hostPort}:8080");
        await _w.MustAsync("sandbox", "run", "--id", "netb" + _tag, "--network", "pod:it");
        var listing = await _w.ListAsync();
        var ipA = listing.Single(s => s.GetProperty("id").GetString() == "neta" + _tag).GetProperty("network").GetProperty("addresses")[0].GetString()!;
        Assert.StartsWith(_subnet + ".", ipA, StringComparison.Ordinal);

        await _w.MustAsync("container", "run", "neta" + _tag, "-d", "--id", "web", "--image", "localhost/it/web:v1");
        await Task.Delay(500);
        var fromB = await _w.MustAsync("container", "run", "netb" + _tag, "--rm", "--image", "localhost/it/web:v1", "--", "/bin/busybox", "wget", "-q", "-O", "-", $"http://{ipA}:8080/index.html");
        var fromHost = Run("timeout", "10", "busybox", "wget", "-q", "-O", "-", $"http://127.0.0.1:{hostPort}/index.html");

        Assert.Equal("served-by-a", fromB.Stdout.Trim());
        Assert.Equal("served-by-a", fromHost.Trim());

        await _w.MustAsync("sandbox", "rm", "neta" + _tag);
        await _w.MustAsync("sandbox", "rm", "netb" + _tag);
        AssertNoNetworkLeft("neta" + _tag, "netb" + _tag);
    }

    [Theory]
    [InlineData("network:added")]
    [InlineData("controller:Create:after")]
    [InlineData("record:Ready")]
    public async Task A_crash_while_a_pod_is_wired_is_undone_by_the_next_command(string crashAt)
    {
        await _w.IsolaAsync(crashAt, "sandbox", "run", "--id", "crashnet" + _tag, "--network", "pod", "--publish", $"{20000 + Random.Shared.Next(20000)}:80");

        await _w.IsolaAsync(null, "sandbox", "rm", "crashnet" + _tag);

        Assert.Empty(await _w.ListAsync());
        AssertNoNetworkLeft("crashnet" + _tag);
        Assert.Empty(_w.Leftovers("crashnet" + _tag));
    }

    [Fact]
    public async Task A_crash_after_an_image_rootfs_is_mounted_is_undone_by_the_next_command()
    {
        await ImportAsync("localhost/it/app:v1", cmd: ["/bin/true"]);
        await _w.MustAsync("sandbox", "run", "--id", "crashimg");

        await _w.IsolaAsync("image:mounted", "container", "run", "crashimg", "--id", "c1", "--image", "localhost/it/app:v1");
        await _w.MustAsync("container", "ls", "crashimg");

        Assert.DoesNotContain(File.ReadAllLines("/proc/self/mountinfo"), l => l.Contains(_w.Root, StringComparison.Ordinal) && l.Contains("overlay", StringComparison.Ordinal));
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(_w.Root, "images", "leases")));
        await _w.MustAsync("sandbox", "rm", "crashimg");
        Assert.Empty(_w.Leftovers("crashimg"));
    }

    [Fact]
    public async Task Bad_image_and_network_input_is_one_line_naming_it_and_leaves_nothing()
    {
        await _w.MustAsync("sandbox", "run", "--id", "bad");

        var unknownImage = await _w.IsolaAsync(null, "container", "run", "bad", "--image", "localhost/it/none:v9");
        var unknownNetwork = await _w.IsolaAsync(null, "sandbox", "run", "--id", "badnet" + _tag, "--network", "pod:nope");
        var portsWithoutNetwork = await _w.IsolaAsync(null, "sandbox", "run", "--id", "badport", "--publish", "8080:80");

        Assert.Equal(1, unknownImage.ExitCode);
        Assert.Contains("localhost/it/none:v9", unknownImage.Stderr, StringComparison.Ordinal);
        Assert.Contains("CNI network 'nope'", unknownNetwork.Stderr, StringComparison.Ordinal);
        Assert.Contains("published ports need a pod network", portsWithoutNetwork.Stderr, StringComparison.Ordinal);
        Assert.All(new[] { unknownImage, unknownNetwork, portsWithoutNetwork }, r => Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
        Assert.DoesNotContain(Directory.Exists("/run/netns") ? Directory.GetFiles("/run/netns") : [], f => f.EndsWith("-badnet" + _tag, StringComparison.Ordinal));
        var listing = await _w.ListAsync();
        Assert.Equal("bad", Assert.Single(listing).GetProperty("id").GetString());
        Assert.Empty((await _w.MustAsync("container", "ls", "bad", "-o", "json")).Stdout.Trim().Trim('[', ']').Trim());
        await _w.MustAsync("sandbox", "rm", "bad");
    }

    private async Task ImportAsync(string reference, string[] cmd)
    {
        var builder = new OciArchiveBuilder();
        var image = builder.AddImage([builder.AddBusyboxLayer()], cmd: cmd, env: ["PATH=/bin", "GREETING=hi"], workingDir: "/work");
        builder.Name(image.Digest, image.Size, reference);
        var archive = builder.WriteArchive(Path.Combine(_w.Work, Guid.NewGuid().ToString("N") + ".tar"));
        await _w.MustAsync("image", "import", archive);
    }

    private void AssertNoNetworkLeft(params string[] ids)
    {
        foreach (var id in ids)
        {
            Assert.DoesNotContain(Directory.Exists("/run/netns") ? Directory.GetFiles("/run/netns") : [], f => f.EndsWith("-" + id, StringComparison.Ordinal));
            Assert.DoesNotContain(Run("iptables-save", "-t", "nat").Split('\n'), l => l.Contains(id, StringComparison.Ordinal));
            var ipam = Path.Combine(_w.Work, "ipam");
            Assert.DoesNotContain(Directory.Exists(ipam) ? Directory.EnumerateFiles(ipam, "*", SearchOption.AllDirectories) : [],
                f => File.ReadAllText(f).Contains(id, StringComparison.Ordinal));
            Assert.False(File.Exists(Path.Combine(_w.Root, "networks", id + ".json")));
        }

        Assert.Empty(Run("ip", "-o", "link", "show", "master", _bridge).Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    /// <summary>Output of a program; a failure gives "" (cleanup and "is it gone" checks want no exception).</summary>
    private static string Run(string file, params string[] args) => Processes.TryRun(file, args).Output;
}
