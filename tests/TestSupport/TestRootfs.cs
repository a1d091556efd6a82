using System.Diagnostics;

namespace Isola.TestSupport;

/// <summary>Container root filesystems for tests that run real containers.</summary>
public static class TestRootfs
{
    /// <summary>Builds a busybox root filesystem in <paramref name="dir"/> with scripts/make-rootfs; returns <paramref name="dir"/>.</summary>
    /// <exception cref="InvalidOperationException">The script failed; the message holds its standard error.</exception>
    public static string Make(string dir)
    {
        var start = new ProcessStartInfo(RepoPaths.Combine("scripts", "make-rootfs"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(dir);
        using var process = Process.Start(start) ?? throw new InvalidOperationException("cannot start scripts/make-rootfs");
        // Both pipes are drained at once, so a chatty script cannot block on a full pipe while we read the other.
        var error = process.StandardError.ReadToEndAsync();
        process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return process.ExitCode == 0 ? dir : throw new InvalidOperationException($"scripts/make-rootfs failed: {error.Result}");
    }
}
