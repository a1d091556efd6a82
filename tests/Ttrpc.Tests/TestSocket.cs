using System.Runtime.Versioning;

[assembly: SupportedOSPlatform("linux")]

namespace Isola.Ttrpc.Tests;

/// <summary>A unique short socket path under /tmp, removed with its directory on dispose.</summary>
public sealed class TestSocket : IDisposable
{
    public TestSocket()
    {
        Dir = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "isola-ttrpc-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(Dir);
        Path = System.IO.Path.Combine(Dir, "s.sock");
    }

    public string Dir { get; }

    public string Path { get; }

    public void Dispose() => Directory.Delete(Dir, recursive: true);
}
