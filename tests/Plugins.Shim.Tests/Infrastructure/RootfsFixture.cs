using Isola.TestSupport;

namespace Isola.Plugins.Shim.Tests.Infrastructure;

/// <summary>One busybox rootfs for the whole test run, made by scripts/make-rootfs.</summary>
public sealed class RootfsFixture : IDisposable
{
    public RootfsFixture()
    {
        Prerequisites.Require();
        Dir = Path.Combine(Path.GetTempPath(), "isola-shim-rootfs-" + Guid.NewGuid().ToString("N")[..8]);
        TestRootfs.Make(Dir);
    }

    public string Dir { get; }

    public void Dispose() => Directory.Delete(Dir, recursive: true);
}

[CollectionDefinition(Name)]
public sealed class ShimCollection : ICollectionFixture<RootfsFixture>
{
    public const string Name = "real shim";
}
