using Isola.Agent.Guest;
using Isola.Agent.Native;
using Isola.Agent.Processes;
using Isola.Agent.Tasks;
using Microsoft.Extensions.Logging.Abstractions;

namespace Isola.Agent.Tests;

/// <summary>The parts of the agent that need no runc: wait statuses, mount options, stdio strings, runc's log, the
/// command line, and the guest's discovery of its port, block devices and share files given a fake sysfs.</summary>
public sealed class UnitTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("isola-agent-unit-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData(0x0300, 3u)]   // exited 3
    [InlineData(0x0000, 0u)]   // exited 0
    [InlineData(15, 143u)]     // killed by SIGTERM
    [InlineData(9 | 0x80, 137u)] // killed by SIGKILL, core dumped flag set
    public void A_wait_status_becomes_the_code_or_128_plus_the_signal(int waitStatus, uint expected) =>
        Assert.Equal(expected, ProcessExit.FromWaitStatus(waitStatus, DateTimeOffset.UnixEpoch).Status);

    [Fact]
    public void Mount_options_split_into_flags_and_data()
    {
        var (flags, data) = MountFlags.Parse(["ro", "nosuid", "lowerdir=/a:/b", "upperdir=/u", "rbind"]);
        Assert.Equal(MountFlags.ReadOnly | MountFlags.NoSuid | MountFlags.Bind | MountFlags.Recursive, flags);
        Assert.Equal("lowerdir=/a:/b,upperdir=/u", data);
        Assert.Equal((0ul, (string?)null), MountFlags.Parse(["ro", "rw"]));
    }

    [Theory]
    [InlineData("", null)]
    [InlineData("/var/log/x.log", "/var/log/x.log")]
    [InlineData("file:///var/log/a%20b.log", "/var/log/a b.log")]
    public void Stdio_strings_are_paths_or_file_urls(string value, string? expected) =>
        Assert.Equal(expected, StdioHandles.LocalPath(value, "container 'c'", "stdout"));

    [Theory]
    [InlineData("relative/path")]
    [InlineData("binary:///usr/bin/logger")]
    [InlineData("fifo://x")]
    public void Other_stdio_strings_are_refused_naming_the_owner(string value)
    {
        var e = Assert.Throws<IsolaException>(() => StdioHandles.LocalPath(value, "container 'c'", "stdout"));
        Assert.Equal(IsolaErrorCode.InvalidArgument, e.Code);
        Assert.Contains("container 'c'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_last_error_of_runcs_json_log_after_the_offset_is_the_message()
    {
        var log = Path.Combine(_dir, "runc.log");
        File.WriteAllText(log, "{\"level\":\"error\",\"msg\":\"old failure\"}\n");
        var offset = new FileInfo(log).Length;
        File.AppendAllText(log, "{\"level\":\"warning\",\"msg\":\"just a warning\"}\n{\"level\":\"error\",\"msg\":\"exec: \\\"/nope\\\": stat /nope: no such file or directory\"}\n");
        Assert.Equal("exec: \"/nope\": stat /nope: no such file or directory", Runc.LastError(log, offset));
        Assert.Contains("/nope", Runc.LastError(log, 0), StringComparison.Ordinal); // the last one wins
        Assert.Null(Runc.LastError(Path.Combine(_dir, "missing.log"), 0));
    }

    [Fact]
    public void The_command_line_has_a_host_mode_and_a_guest_mode()
    {
        var host = AgentOptions.Parse(["--listen", "unix:///run/a.sock", "--runc", "/usr/sbin/runc", "--root", "/r", "--state", "/s"], isPid1: false);
        Assert.Equal("/run/a.sock", host.Listen);
        Assert.False(host.Guest);
        Assert.Equal(("/usr/sbin/runc", "/r", "/s"), (host.Runc, host.Root, host.State));
        Assert.True(AgentOptions.Parse([], isPid1: true).Guest);
        Assert.True(AgentOptions.Parse(["--guest", "--no-pivot"], isPid1: false).NoPivot);
        Assert.Throws<ArgumentException>(() => AgentOptions.Parse([], isPid1: false));
        Assert.Throws<ArgumentException>(() => AgentOptions.Parse(["--listen", "tcp://x"], isPid1: false));
        Assert.Throws<ArgumentException>(() => AgentOptions.Parse(["--bogus"], isPid1: false));
    }

    [Fact]
    public void The_agent_port_is_found_by_its_name_in_sysfs()
    {
        var ports = Path.Combine(_dir, "class", "virtio-ports");
        Directory.CreateDirectory(Path.Combine(ports, "vport0p0"));
        File.WriteAllText(Path.Combine(ports, "vport0p0", "name"), "org.qemu.guest_agent.0\n");
        Directory.CreateDirectory(Path.Combine(ports, "vport0p1"));
        File.WriteAllText(Path.Combine(ports, "vport0p1", "name"), "agent.0\n");
        Assert.Equal("/dev/vport0p1", VirtioPorts.Find("agent.0", _dir));
        Assert.Null(VirtioPorts.Find("other.0", _dir));
        Assert.Null(VirtioPorts.Find("agent.0", Path.Combine(_dir, "nothing")));
    }

    [Fact]
    public async Task A_pci_address_resolves_to_the_block_device_that_appears_under_it()
    {
        Assert.True(BlockDeviceResolver.IsPciAddress("0000:00:05.0"));
        Assert.False(BlockDeviceResolver.IsPciAddress("/dev/vda"));
        Assert.False(BlockDeviceResolver.IsPciAddress("0000:00:05"));
        var resolver = new BlockDeviceResolver(_dir, TimeSpan.FromSeconds(3));
        var resolving = resolver.ResolveAsync("0000:00:05.0", "container 'c'", CancellationToken.None);
        await Task.Delay(200);
        Assert.False(resolving.IsCompleted);
        Directory.CreateDirectory(Path.Combine(_dir, "bus", "pci", "devices", "0000:00:05.0", "virtio3", "block", "vdb"));
        Assert.Equal("/dev/vdb", await resolving);

        var missing = await Assert.ThrowsAsync<IsolaException>(() =>
            new BlockDeviceResolver(_dir, TimeSpan.FromMilliseconds(200)).ResolveAsync("0000:00:06.0", "container 'c'", CancellationToken.None));
        Assert.Equal(IsolaErrorCode.NotFound, missing.Code);
        Assert.Contains("0000:00:06.0", missing.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_root_port_address_resolves_to_the_block_device_of_the_function_behind_it()
    {
        // QEMU's and StratoVirt's hot-plug report the PCIe root port; the disk is on its secondary bus.
        Directory.CreateDirectory(Path.Combine(_dir, "bus", "pci", "devices", "0000:00:01.0", "0000:01:00.0", "virtio2", "block", "vda"));

        var device = await new BlockDeviceResolver(_dir, TimeSpan.FromSeconds(1)).ResolveAsync("0000:00:01.0", "container 'c'", CancellationToken.None);

        Assert.Equal("/dev/vda", device);
    }

    [Fact]
    public void Host_rootfs_mounts_the_guest_cannot_see_are_skipped_only_when_the_rootfs_was_staged()
    {
        var rootfs = Path.Combine(_dir, "bundle", "rootfs");
        var hostOnly = new[] { new Isola.TaskApi.Protos.Types.Mount { Type = "bind", Source = "/no/such/host/dir", Options = { "rbind" } } };
        var visible = new[] { new Isola.TaskApi.Protos.Types.Mount { Type = "bind", Source = _dir } };

        Directory.CreateDirectory(rootfs);
        var emptyRootfs = RootfsMounter.StagedByHost(hostOnly, rootfs);
        File.WriteAllText(Path.Combine(rootfs, "staged"), "");

        Assert.False(emptyRootfs);
        Assert.True(RootfsMounter.StagedByHost(hostOnly, rootfs));
        Assert.False(RootfsMounter.StagedByHost(visible, rootfs));
    }

    [Fact]
    public void An_output_path_the_guest_cannot_see_is_replaced_by_the_staged_file_of_that_name_in_the_bundle()
    {
        var bundle = Path.Combine(_dir, "bundle");
        Directory.CreateDirectory(bundle);
        File.WriteAllText(Path.Combine(bundle, "stdout.log"), "");

        using (var stdio = StdioHandles.Open("", "file:///engine/host/only/stdout.log", "", "container 'c'", bundle))
        using (var output = new FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(LibC.dup(stdio.Stdout), ownsHandle: true), FileAccess.Write))
        {
            output.Write("staged\n"u8);
        }

        var unstaged = Assert.Throws<IsolaException>(() => StdioHandles.Open("", "file:///engine/host/only/other.log", "", "container 'c'", bundle));
        Assert.Equal("staged\n", File.ReadAllText(Path.Combine(bundle, "stdout.log")));
        Assert.Contains("other.log", unstaged.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Share_files_are_copied_into_etc_when_present()
    {
        var share = Path.Combine(_dir, "share");
        var etc = Path.Combine(_dir, "etc");
        Directory.CreateDirectory(share);
        File.WriteAllText(Path.Combine(share, "hosts"), "127.0.0.1 localhost pod\n");
        File.WriteAllText(Path.Combine(share, "hostname"), "pod\n");
        GuestSetup.ApplyShareFiles(share, etc, NullLogger.Instance);
        Assert.Equal("127.0.0.1 localhost pod\n", File.ReadAllText(Path.Combine(etc, "hosts")));
        Assert.Equal("pod\n", File.ReadAllText(Path.Combine(etc, "hostname")));
        Assert.False(File.Exists(Path.Combine(etc, "resolv.conf")));
    }

    [Fact]
    public void Mount_points_are_read_from_mountinfo()
    {
        var points = GuestSetup.MountPoints("22 1 0:21 / /proc rw,nosuid - proc proc rw\n23 1 0:5 / /dev rw - devtmpfs devtmpfs rw\n");
        Assert.Equal(["/proc", "/dev"], points.Order(StringComparer.Ordinal).Reverse());
    }

    [Fact]
    public void A_vsock_device_is_present_only_when_bound_to_the_virtio_vsock_driver()
    {
        var driver = Path.Combine(_dir, "bus", "virtio", "drivers", "vmw_vsock_virtio_transport");
        Assert.False(VsockListener.DevicePresent(_dir));
        Directory.CreateDirectory(driver);
        Assert.False(VsockListener.DevicePresent(_dir)); // module loaded, no device
        Directory.CreateDirectory(Path.Combine(driver, "virtio2"));
        Assert.True(VsockListener.DevicePresent(_dir));
    }

    [Fact]
    public void The_vsock_listener_binds_its_port_and_stops()
    {
        // Connecting needs a VM (or vsock_loopback); binding and stopping work on any kernel with AF_VSOCK.
        var port = (uint)Random.Shared.Next(40000, 60000);
        using var listener = VsockListener.TryStart(new Isola.Ttrpc.Server.TtrpcServer(), NullLogger.Instance, port);
        Assert.True(listener is not null, "this kernel has no AF_VSOCK: load the vsock module (modprobe vsock)");
        listener.Dispose();
        using var again = VsockListener.TryStart(new Isola.Ttrpc.Server.TtrpcServer(), NullLogger.Instance, port);
        Assert.True(again is not null, $"vsock port {port} was not released by Dispose");
    }
}
