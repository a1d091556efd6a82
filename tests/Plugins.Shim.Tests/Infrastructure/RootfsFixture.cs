using System.Diagnostics;

namespace Isola.Plugins.Shim.Tests.Infrastructure;

/// <summary>One busybox rootfs for the whole test run, made by scripts/make-rootfs.</summary>
public sealed class RootfsFixture : IDisposable
{
    public RootfsFixture()
    {
        Prerequisites.Require();
        Dir = Path.Combine(Path.GetTempPath(), "isola-shim-rootfs-" + Guid.NewGuid().ToString("N")[..8]);
        var psi = new ProcessStartInfo(Path.Combine(Prerequisites.RepoRoot(), "scripts", "make-rootfs")) { RedirectStandardError = true, RedirectStandardOutput = true };
        psi.ArgumentList.Add(Dir);
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, "scripts/make-rootfs failed: " + err);
    }

    public string Dir { get; }

    public void Dispose() => Directory.Delete(Dir, recursive: true);
}

[CollectionDefinition(Name)]
public sealed class ShimCollection : ICollectionFixture<RootfsFixture>
{
    public const string Name = "real shim";
}
