using Isola.Cli.Tests.Support;

namespace Isola.Cli.Tests;

/// <summary>
/// The isola command as a real process against the default plugins and the real peers (containerd-shim-runc-v2 and
/// runc): a pause sandbox, containers with output and exit codes, exec, and removal that leaves no runc container.
/// </summary>
public sealed class RealShimTests : IDisposable
{
    private readonly string _base = Path.Combine(Path.GetTempPath(), "isola-cli-shim-" + Guid.NewGuid().ToString("N")[..10]);
    private readonly string _id = "cli-" + Guid.NewGuid().ToString("N")[..10];

    public RealShimTests()
    {
        foreach (var (binary, package) in new[] { ("/usr/bin/containerd-shim-runc-v2", "containerd"), ("/usr/sbin/runc", "runc"), ("/bin/busybox", "busybox-static") })
        {
            Assert.True(File.Exists(binary), $"{binary} is missing: install the Debian package '{package}' (scripts/setup does)");
        }

        Assert.True(Environment.UserName == "root", "these tests start shims and runc containers: run them as root");
        var bin = Path.Combine(_base, "rootfs", "bin");
        Directory.CreateDirectory(bin);
        File.Copy("/bin/busybox", Path.Combine(bin, "busybox"));
        foreach (var applet in new[] { "sh", "echo", "sleep", "cat" })
        {
            File.CreateSymbolicLink(Path.Combine(bin, applet), "busybox");
        }
    }

    private string Rootfs => Path.Combine(_base, "rootfs");

    private Task<(int Code, string Out, string Err)> Isola(params string[] args) =>
        Task.Run(() =>
        {
            var (code, output) = TestPluginBuild.Run("dotnet",
                [Path.Combine(AppContext.BaseDirectory, "isola.dll"), "--root", Path.Combine(_base, "state"), .. args], timeout: TimeSpan.FromMinutes(2));
            return (code, output, "");
        });

    public void Dispose()
    {
        // Best effort if an assertion failed half-way: never leave a pause container behind.
        TestPluginBuild.Run("dotnet", [Path.Combine(AppContext.BaseDirectory, "isola.dll"), "--root", Path.Combine(_base, "state"), "sandbox", "rm", _id]);
        Directory.Delete(_base, recursive: true);
    }

    [Fact]
    public async Task Run_a_pod_and_containers_through_the_shim_and_remove_everything()
    {
        Assert.Equal((0, $"{_id}\n"), Trim(await Isola("sandbox", "run", "--id", _id)));
        Assert.Equal((0, "hello from runc\n"), Trim(await Isola("container", "run", _id, "--rootfs", Rootfs, "--id", _id + "-a", "--", "echo", "hello", "from", "runc")));
        Assert.Equal(5, (await Isola("container", "run", _id, "--rootfs", Rootfs, "--id", _id + "-b", "--", "sh", "-c", "exit 5")).Code);
        Assert.Equal(0, (await Isola("container", "run", _id, "--rootfs", Rootfs, "--id", _id + "-svc", "-d", "--", "sleep", "300")).Code);
        Assert.Equal((0, "in exec\n"), Trim(await Isola("container", "exec", _id, _id + "-svc", "--", "sh", "-c", "echo in exec")));
        Assert.Equal((0, $"{_id}\n"), Trim(await Isola("sandbox", "rm", _id)));
        // The runc namespace is per state root: look in every one.
        foreach (var ns in Directory.Exists("/run/containerd/runc") ? Directory.GetDirectories("/run/containerd/runc") : [])
        {
            var (_, runcList) = TestPluginBuild.Run("runc", ["--root", ns, "list", "-q"]);
            Assert.DoesNotContain(_id, runcList);
        }

        Assert.False(Directory.Exists(Path.Combine(_base, "state", _id)));
    }

    private static (int, string) Trim((int Code, string Out, string Err) r) => (r.Code, r.Out);
}
