namespace Isola.Hosting.State;

/// <summary>
/// An exclusive lock held through a lock file, which also excludes other processes: on Unix, .NET opens a file with
/// <see cref="FileShare.None"/> by taking flock(LOCK_EX|LOCK_NB) on it, and the kernel drops the lock when the process
/// dies, so a crashed holder never leaves a stale lock behind. Waiting is by polling, so it stays cancellable.
/// </summary>
internal sealed class FileLock : IDisposable
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

            return new FileLock(new FileStream(path, options));
        }
        catch (IOException e) when (IsSharingViolation(e))
        {
            return null;
        }
    }

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
