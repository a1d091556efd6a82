using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Isola.Hosting.State;

/// <summary>
/// An exclusive lock held through a lock file, which also excludes other processes: on Unix, .NET opens a file with
/// <see cref="FileShare.None"/> by taking flock(LOCK_EX|LOCK_NB) on it, and the kernel drops the lock when the process
/// dies, so a crashed holder never leaves a stale lock behind. Waiting is by polling, so it stays cancellable.
/// A lock file can be deleted (with its sandbox) between a waiter's open and its flock; the waiter would then lock an
/// unlinked inode while a new file at the same path is locked by someone else. So after flock succeeds the handle's
/// inode is compared with the path's, and a mismatch or a vanished path means "try again".
/// </summary>
internal sealed partial class FileLock : IDisposable
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(15);
    private readonly FileStream _stream;

    private FileLock(FileStream stream) => _stream = stream;

    /// <summary>Takes the lock if it is free now; null when another holder has it.</summary>
    /// <param name="path">The lock file.</param>
    /// <param name="create">Create the lock file when missing; otherwise a missing file throws.</param>
    /// <exception cref="DirectoryNotFoundException">The lock file's directory is gone.</exception>
    /// <exception cref="FileNotFoundException">The lock file is gone and <paramref name="create"/> is false.</exception>
    public static FileLock? TryAcquire(string path, bool create = true)
    {
        if (OperatingSystem.IsWindows())
        {
            throw new PlatformNotSupportedException("Isola runs on Linux");
        }

        try
        {
            var options = new FileStreamOptions
            {
                Mode = create ? FileMode.OpenOrCreate : FileMode.Open,
                Access = FileAccess.ReadWrite,
                Share = FileShare.None,
            };
            if (create)
            {
                options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            }

            for (var attempt = 0; attempt < MaxReopens; attempt++)
            {
                var stream = new FileStream(path, options);
                LockedForTests?.Invoke(path);
                var current = IsStillNamedBy(stream.SafeFileHandle, path);
                if (current is true)
                {
                    return new FileLock(stream);
                }

                stream.Dispose();
                if (current is null && !create)
                {
                    throw new FileNotFoundException($"lock file '{path}' was deleted", path);
                }
            }

            return null; // the path keeps being replaced under us: as good as busy, the caller polls again
        }
        catch (IOException e) when (IsSharingViolation(e))
        {
            return null;
        }
    }

    private const int MaxReopens = 5;

    /// <summary>Called right after the lock is taken and before it is checked (tests use it to replace the file at
    /// that moment, the race this check closes).</summary>
    internal static Action<string>? LockedForTests { get; set; }

    /// <summary>True when <paramref name="path"/> names the file <paramref name="handle"/> has open; false when it names
    /// another file; null when it names nothing.</summary>
    internal static bool? IsStillNamedBy(SafeFileHandle handle, string path)
    {
        var held = new byte[StatBufferSize];
        var named = new byte[StatBufferSize];
        if (FStat(handle, held) != 0)
        {
            throw new IOException($"fstat of lock file '{path}' failed: errno {Marshal.GetLastPInvokeError()}");
        }

        if (Stat(path, named) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            return errno is ENoEnt or ENotDir ? null : throw new IOException($"stat of lock file '{path}' failed: errno {errno}");
        }

        // st_dev and st_ino are the first two 64-bit fields of struct stat on both x86_64 and aarch64 Linux.
        return held.AsSpan(0, 16).SequenceEqual(named.AsSpan(0, 16));
    }

    // Larger than struct stat on every 64-bit Linux ABI (144 bytes on x86_64, 128 on aarch64).
    private const int StatBufferSize = 256;
    private const int ENoEnt = 2;
    private const int ENotDir = 20;

    // Two syscalls the BCL does not expose (it has no inode number); the host already binds libc directly for fsync,
    // so a package for these would add a dependency for nothing. glibc exports stat/fstat since 2.33.
    [LibraryImport("libc", EntryPoint = "fstat", SetLastError = true)]
    private static partial int FStat(SafeFileHandle fd, [Out] byte[] buffer);

    [LibraryImport("libc", EntryPoint = "stat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Stat(string path, [Out] byte[] buffer);

    /// <summary>Waits for the lock until <paramref name="cancellationToken"/> fires.</summary>
    public static async Task<FileLock> AcquireAsync(string path, CancellationToken cancellationToken, bool create = true)
    {
        while (true)
        {
            var held = TryAcquire(path, create);
            if (held is not null)
            {
                return held;
            }

            await Task.Delay(PollInterval, cancellationToken).ConfigureAwait(false);
        }
    }

    // How .NET on Linux reports a failed flock(LOCK_EX|LOCK_NB): an IOException whose HResult is the errno,
    // EWOULDBLOCK (11). Anything else (too many open files, I/O error) is a real failure, not "busy", and must not be
    // polled forever.
    private const int EWouldBlock = 11;

    private static bool IsSharingViolation(IOException e) =>
        e is not DirectoryNotFoundException and not FileNotFoundException && e.HResult == EWouldBlock;

    /// <inheritdoc />
    public void Dispose() => _stream.Dispose();
}
