using System.Diagnostics;

namespace Isola.Cli.Tests.Support;

/// <summary>A directory nobody can write to, the test process included: a read-only tmpfs mounted on it when running
/// as root (who ignores file modes), mode 0555 otherwise. Disposing makes it writable again.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
internal sealed class ReadOnlyDirectory : IDisposable
{
    private readonly string _path;
    private readonly bool _mounted;

    private ReadOnlyDirectory(string path, bool mounted)
    {
        _path = path;
        _mounted = mounted;
    }

    public static ReadOnlyDirectory Create(string path)
    {
        Directory.CreateDirectory(path);
        if (!Environment.IsPrivilegedProcess)
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserExecute | UnixFileMode.GroupRead |
                UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
            return new ReadOnlyDirectory(path, mounted: false);
        }

        Run("mount", "-t", "tmpfs", "-o", "ro,size=64k", "isola-test-ro", path);
        return new ReadOnlyDirectory(path, mounted: true);
    }

    public void Dispose()
    {
        if (_mounted)
        {
            Run("umount", _path);
        }
        else
        {
            File.SetUnixFileMode(_path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
    }

    private static void Run(string file, params string[] args)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info)!;
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException(
                $"{file} {string.Join(' ', args)} failed ({error.Trim()}): a read-only directory as root needs CAP_SYS_ADMIN");
        }
    }
}
