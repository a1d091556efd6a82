using System.Runtime.Versioning;
using Isola.TestSupport;

[assembly: SupportedOSPlatform("linux")]

namespace Isola.Plugins.Shim.Tests.Infrastructure;

/// <summary>The real peers these tests drive. A missing one fails the test with what to install.</summary>
internal static class Prerequisites
{
    public static void Require()
    {
        var missing = new List<string>();
        if (Peers.Which("containerd-shim-runc-v2") is null)
        {
            missing.Add("containerd-shim-runc-v2 (Debian package containerd)");
        }

        if (Peers.Which("runc") is null)
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
}
