using Isola.Plugins.StratoVirt.Qmp;
using Isola.Plugins.StratoVirt.Vmm;
using Isola.Plugins.StratoVirt.Vmm.Processes;
using Microsoft.Extensions.Logging.Abstractions;

namespace Isola.Plugins.StratoVirt.Tests.Vmm;

/// <summary>Launching a VMM whose daemon keeps the launcher's stdout and stderr (as QEMU keeps stderr under -D): they
/// are the VM's output log, never pipes the host would wait on, and a failed start is reported with that output.</summary>
public sealed class VmmLauncherTests : IDisposable
{
    private readonly string _dir = TestPaths.NewTempDir("sv-launch");

    public void Dispose()
    {
        var childPid = Path.Combine(_dir, "child.pid");
        if (File.Exists(childPid) && int.TryParse(File.ReadAllText(childPid).Trim(), out var pid))
        {
            Native.LibC.Kill(pid, Native.LibC.SIGKILL);
        }

        Directory.Delete(_dir, true);
    }

    [Fact]
    public async Task A_failing_launcher_is_reported_even_when_its_daemon_holds_the_output_pipes()
    {
        var fake = Path.Combine(_dir, "fake-vmm");
        // The "daemon" (a background sleep) inherits the launcher's stdout and stderr and outlives it.
        File.WriteAllText(fake, $"#!/bin/sh\nsleep 300 &\necho $! > {Path.Combine(_dir, "child.pid")}\necho 'bad option -foo' >&2\nexit 3\n");
        File.SetUnixFileMode(fake, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);

        var launch = Task.Run(() => VmmLauncher.LaunchAsync("sv-launch", [fake], new VmLayout(_dir), TimeSpan.FromSeconds(30),
            new QmpClientOptions(), NullLogger.Instance, CancellationToken.None));
        // A hang detector, not a performance bound: before the fix the launch waited for the sleep's 300 s.
        var e = await Assert.ThrowsAsync<IsolaException>(() => launch.WaitAsync(TimeSpan.FromSeconds(20)));

        Assert.Equal(IsolaErrorCode.Internal, e.Code);
        Assert.Contains("exited with code 3", e.Message);
        Assert.Contains("bad option -foo", e.Message);
    }

    [Fact]
    public async Task The_daemon_inherits_the_output_log_not_pipes_to_the_host()
    {
        var fake = Path.Combine(_dir, "fake-vmm");
        var childPid = Path.Combine(_dir, "child.pid");
        File.WriteAllText(fake, $"#!/bin/sh\nsleep 300 &\necho $! > {childPid}\necho 'daemon started'\nexit 0\n");
        File.SetUnixFileMode(fake, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var layout = new VmLayout(_dir);

        var launch = Task.Run(() => VmmLauncher.LaunchAsync("sv-launch", [fake], layout, TimeSpan.FromSeconds(3),
            new QmpClientOptions(), NullLogger.Instance, CancellationToken.None));
        string? pid = null;
        await Controller.VmHarness.UntilAsync(() => (pid = File.Exists(childPid) ? File.ReadAllText(childPid).Trim() : null) is { Length: > 0 },
            TimeSpan.FromSeconds(10), "the fake VMM's daemon");
        var stdout = new FileInfo($"/proc/{pid}/fd/1").LinkTarget;
        var stderr = new FileInfo($"/proc/{pid}/fd/2").LinkTarget;
        var stdin = new FileInfo($"/proc/{pid}/fd/0").LinkTarget;
        var e = await Assert.ThrowsAsync<IsolaException>(() => launch);

        Assert.Equal(layout.OutputLog, stdout);
        Assert.Equal(layout.OutputLog, stderr);
        Assert.Equal("/dev/null", stdin);
        Assert.Equal(IsolaErrorCode.DeadlineExceeded, e.Code);
        Assert.Contains("daemon started", e.Message);
        Assert.False(File.Exists(layout.OutputLog), "a failed launch leaves no output log behind");
    }
}
