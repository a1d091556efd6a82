using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Isola.Hosting.State;

/// <summary>
/// An exclusive lock held through a lock file, which also excludes other processes: flock(LOCK_EX|LOCK_NB) on a
/// descriptor of the file, released when the descriptor is closed or the process dies, so a crashed holder never
/// leaves a stale lock behind. The lock is taken with flock(2) itself, not through <see cref="FileShare.None"/>: .NET
/// skips that flock when DOTNET_SYSTEM_IO_DISABLEFILELOCKING=1 is set, which would silently let two processes in.
/// Waiting is by polling, so it stays cancellable.
/// A lock file can be deleted (with its sandbox) between a waiter's open and its flock; the waiter would then lock an
/// unlinked inode while a new file at the same path is locked by someone else. So after flock succeeds the handle's
/// inode is compared with the path's, and a mismatch or a vanished path means "try again".
/// </summary>
internal sealed partial class FileLock : IDisposable
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(15);
    private readonly SafeFileHandle _handle;

    private FileLock(SafeFileHandle handle) => _handle = handle;

    /// <summary>Takes the lock if it is free now; null when another holder has it.</summary>
    /// <param name="path">The lock file.</param>
    /// <param name="create">Create the lock file (mode 0600) when missing; otherwise a missing file throws.</param>
    /// <exception cref="DirectoryNotFoundException">The lock file's directory is gone.</exception>
    /// <exception cref="FileNotFoundException">The lock file is gone and <paramref name="create"/> is false.</exception>
    /// <exception cref="UnauthorizedAccessException">The file cannot be opened for writing (permissions, read-only file
    /// system); the message names the file.</exception>
    /// <exception cref="IOException">Any other failure to open or lock the file; the message names the file.</exception>
    public static FileLock? TryAcquire(string path, bool create = true)
    {
        if (OperatingSystem.IsWindows())
        {
            throw new PlatformNotSupportedException("Isola runs on Linux");
        }

        for (var attempt = 0; attempt < MaxReopens; attempt++)
        {
            var handle = OpenLockFile(path, create);
            try
            {
                if (!TryLockExclusive(handle, path))
                {
                    handle.Dispose();
                    return null;
                }

                LockedForTests?.Invoke(path);
                var current = IsStillNamedBy(handle, path);
                if (current is true)
                {
                    return new FileLock(handle);
                }

                handle.Dispose();
                if (current is null && !create)
                {
                    throw new FileNotFoundException($"lock file '{path}' was deleted", path);
                }
            }
            catch
            {
                handle.Dispose();
                throw;
            }
        }

        return null; // the path keeps being replaced under us: as good as busy, the caller polls again
    }

    private static SafeFileHandle OpenLockFile(string path, bool create)
    {
        var fd = Open(path, ORdWr | OCloexec | (create ? OCreat : 0), OwnerReadWrite);
        if (fd >= 0)
        {
            return new SafeFileHandle(fd, ownsHandle: true);
        }

        var errno = Marshal.GetLastPInvokeError();
        var reason = Marshal.GetPInvokeErrorMessage(errno);
        switch (errno)
        {
            case ENoEnt when !create && Directory.Exists(Path.GetDirectoryName(path)):
                throw new FileNotFoundException($"lock file '{path}' does not exist", path);
            case ENoEnt or ENotDir:
                throw new DirectoryNotFoundException($"the directory of lock file '{path}' does not exist");
            case EAcces or EPerm or ERofs:
                throw new UnauthorizedAccessException($"cannot open lock file '{path}' for writing: {reason}");
            default:
                throw new IOException($"cannot open lock file '{path}': {reason}", errno);
        }
    }

    private static bool TryLockExclusive(SafeFileHandle handle, string path)
    {
        while (FLock(handle, LockEx | LockNb) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            switch (errno)
            {
                case EWouldBlock:
                    return false;
                case EIntr:
                    continue;
                default:
                    // Too many locks, an I/O error: a real failure, not "busy", and must not be polled forever.
                    throw new IOException($"cannot lock '{path}': {Marshal.GetPInvokeErrorMessage(errno)}", errno);
            }
        }

        return true;
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
    private const int EPerm = 1;
    private const int ENoEnt = 2;
    private const int EIntr = 4;
    private const int EWouldBlock = 11;
    private const int EAcces = 13;
    private const int ENotDir = 20;
    private const int ERofs = 30;
    private const int ORdWr = 2;
    private const int OCreat = 0x40;
    private const int OCloexec = 0x80000;
    private const uint OwnerReadWrite = 0x180; // 0600, before the umask
    private const int LockEx = 2;
    private const int LockNb = 4;

    // Syscalls the BCL does not expose (no inode number, no flock of its own); the host already binds libc directly
    // for fsync, so a package for these would add a dependency for nothing. glibc exports stat/fstat since 2.33.
    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Open(string path, int flags, uint mode);

    [LibraryImport("libc", EntryPoint = "flock", SetLastError = true)]
    private static partial int FLock(SafeFileHandle fd, int operation);

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

    /// <inheritdoc />
    public void Dispose() => _handle.Dispose();
}
