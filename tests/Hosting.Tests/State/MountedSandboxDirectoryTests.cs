using System.Diagnostics;
using Isola.Hosting.State;
using Microsoft.Extensions.Logging.Abstractions;

namespace Isola.Hosting.Tests.State;

/// <summary>A controller that left something mounted in a sandbox's directory (the vm controller mounts the directory
/// onto itself and binds rootfs into it) never makes the host delete through the mount or fail to quarantine.</summary>
public sealed class MountedSandboxDirectoryTests : IDisposable
{
    private readonly string _work = Directory.CreateTempSubdirectory("isola-mounted-").FullName;

    public void Dispose()
    {
        MountDetacher.DetachUnder(_work);
        Directory.Delete(_work, recursive: true);
    }

    [Fact]
    public void Deleting_a_sandbox_unmounts_what_is_left_there_instead_of_deleting_through_it()
    {
        var store = new StateStore(Path.Combine(_work, "root"), NullLogger.Instance);
        var userRootfs = Directory.CreateDirectory(Path.Combine(_work, "user-rootfs")).FullName;
        File.WriteAllText(Path.Combine(userRootfs, "precious"), "keep me");
        var dir = Directory.CreateDirectory(store.SandboxDirectory("sb1")).FullName;
        Mount("--bind", dir, dir);
        var bundleRootfs = Directory.CreateDirectory(Path.Combine(dir, "shared", "c1", "rootfs")).FullName;
        Mount("--bind", userRootfs, bundleRootfs);

        store.DeleteSandbox("sb1");

        Assert.False(Directory.Exists(dir));
        Assert.Equal("keep me", File.ReadAllText(Path.Combine(userRootfs, "precious")));
        Assert.DoesNotContain(File.ReadAllText("/proc/self/mountinfo"), _work, StringComparison.Ordinal);
    }

    [Fact]
    public void A_mounted_sandbox_directory_can_still_be_quarantined()
    {
        var store = new StateStore(Path.Combine(_work, "root"), NullLogger.Instance);
        var dir = Directory.CreateDirectory(store.SandboxDirectory("sb2")).FullName;
        Mount("--bind", dir, dir);

        var target = store.Quarantine("sb2", new InvalidOperationException("test"));

        Assert.False(Directory.Exists(dir));
        Assert.True(Directory.Exists(target));
    }

    private static void Mount(params string[] args)
    {
        if (!Environment.IsPrivilegedProcess)
        {
            throw new InvalidOperationException("these tests bind-mount directories: run them as root");
        }

        using var mount = Process.Start(new ProcessStartInfo("mount", args) { RedirectStandardError = true })!;
        var error = mount.StandardError.ReadToEnd();
        mount.WaitForExit();
        Assert.True(mount.ExitCode == 0, $"mount {string.Join(' ', args)}: {error}");
    }
}
