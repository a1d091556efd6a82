using System.Runtime.Versioning;
using Isola.TestSupport;

[assembly: SupportedOSPlatform("linux")]

namespace Isola.Plugins.TaskApi.Tests.Infrastructure;

/// <summary>One busybox rootfs for the whole run; the real shim, runc and root privileges are checked first.</summary>
public sealed class RootfsFixture : IDisposable
{
    public RootfsFixture()
    {
        Peers.RequireShimAndBusybox();
        Assert.True(Environment.UserName == "root", "the Task API tests run real pods: run them as root");
        Dir = Path.Combine(Path.GetTempPath(), "isola-taskapi-rootfs-" + Guid.NewGuid().ToString("N")[..8]);
        TestRootfs.Make(Dir);
    }

    public string Dir { get; }

    public void Dispose() => Directory.Delete(Dir, recursive: true);
}

[CollectionDefinition(Name)]
public sealed class RealShimCollection : ICollectionFixture<RootfsFixture>
{
    public const string Name = "real shim";
}
