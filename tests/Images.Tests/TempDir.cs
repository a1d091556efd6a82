namespace Isola.Images.Tests;

/// <summary>A directory deleted with the test (unmounting anything a test left mounted below it first).</summary>
internal sealed class TempDir : IDisposable
{
    public TempDir()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "isola-images-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string Combine(params string[] parts) => System.IO.Path.Combine([Path, .. parts]);

    public void Dispose()
    {
        foreach (var mount in File.ReadAllLines("/proc/self/mounts").Select(l => l.Split(' ')[1]).Where(m => m.StartsWith(Path, StringComparison.Ordinal)).Reverse())
        {
            Tools.Run("umount", mount);
        }

        Directory.Delete(Path, recursive: true);
    }
}
