namespace Isola.TestSupport;

/// <summary>The real programs tests drive (the containerd shim, runc, busybox, ...), found on PATH as the code under test
/// finds them. A missing one fails the test with the Debian package that provides it.</summary>
public static class Peers
{
    /// <summary>The full path of <paramref name="name"/> on PATH, or null.</summary>
    public static string? Which(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, name)).FirstOrDefault(File.Exists);

    /// <summary>Throws, naming the package to install, unless every binary is on PATH.</summary>
    /// <exception cref="InvalidOperationException">A binary is missing.</exception>
    public static void Require(params (string Binary, string Package)[] peers)
    {
        foreach (var (binary, package) in peers)
        {
            if (Which(binary) is null)
            {
                throw new InvalidOperationException($"{binary} not found on PATH: install the Debian package {package} (scripts/setup does)");
            }
        }
    }

    /// <summary>What the pause-sandbox tests need: the containerd shim, runc, and busybox for the rootfs.</summary>
    public static void RequireShimAndBusybox() =>
        Require(("containerd-shim-runc-v2", "containerd"), ("runc", "runc"), ("busybox", "busybox-static"));
}
