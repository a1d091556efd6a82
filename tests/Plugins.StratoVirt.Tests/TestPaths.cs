using Isola.TestSupport;

namespace Isola.Plugins.StratoVirt.Tests;

/// <summary>Temp directories and the test guest built by scripts/guest/build-guest.</summary>
internal static class TestPaths
{
    public const string Qemu = "/usr/bin/qemu-system-x86_64";

    /// <summary>A fresh 0700 directory with a short name (Unix socket paths must stay under 108 bytes).</summary>
    public static string NewTempDir(string area)
    {
        var dir = Path.Combine(Path.GetTempPath(), $"isola-{area}-{Guid.NewGuid().ToString("N")[..8]}");
        Directory.CreateDirectory(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return dir;
    }

    /// <summary>The guest kernel and initramfs; fails with what to run when they are missing.</summary>
    public static (string Kernel, string Initrd) Guest()
    {
        var dir = Environment.GetEnvironmentVariable("ISOLA_GUEST_DIR") ?? RepoPaths.Combine("artifacts", "guest");
        var kernel = Path.Combine(dir, "vmlinux");
        var initrd = Path.Combine(dir, "initrd.gz");
        if (!File.Exists(kernel) || !File.Exists(initrd))
        {
            throw new InvalidOperationException($"the test guest is missing in {dir}: run scripts/guest/build-guest (scripts/setup does)");
        }

        return (kernel, initrd);
    }

    /// <summary>Fails with what to install when QEMU is missing.</summary>
    public static string RequireQemu() =>
        File.Exists(Qemu) ? Qemu : throw new InvalidOperationException($"{Qemu} is missing: apt-get install qemu-system-x86");
}
