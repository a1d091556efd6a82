using System.Runtime.Versioning;

[assembly: SupportedOSPlatform("linux")]

namespace Isola.Plugins.Shim.Tests.Infrastructure;

/// <summary>The real peers these tests drive. A missing one fails the test with what to install.</summary>
internal static class Prerequisites
{
    public static void Require()
    {
        var missing = new List<string>();
        if (Which("containerd-shim-runc-v2") is null)
        {
            missing.Add("containerd-shim-runc-v2 (Debian package containerd)");
        }

        if (Which("runc") is null)
        {
            missing.Add("runc (Debian package runc)");
        }

        if (!File.Exists("/bin/busybox"))
        {
            missing.Add("/bin/busybox (Debian package busybox-static)");
        }

        if (Environment.UserName != "root")
        {
            missing.Add("root privileges (run the tests as root)");
        }

        if (missing.Count > 0)
        {
            Assert.Fail("missing for the shim tests: " + string.Join("; ", missing) + ". Run scripts/setup as root.");
        }
    }

    public static string? Which(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin").Split(':')
            .Select(dir => Path.Combine(dir, name)).FirstOrDefault(File.Exists);

    /// <summary>The repository root (holding Framework.sln).</summary>
    public static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Framework.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("repository root not found above " + AppContext.BaseDirectory);
    }
}
