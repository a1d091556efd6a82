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
    /// <exception cref="DirectoryNotFoundException">The lock file's directory is gone.</exception>
    public static FileLock? TryAcquire(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            throw new PlatformNotSupportedException("Isola runs on Linux");
        }

        try
        {
            var options = new FileStreamOptions
            {
                Mode = FileMode.OpenOrCreate,
                Access = FileAccess.ReadWrite,
                Share = FileShare.None,
                UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
            };
            return new FileLock(new FileStream(path, options));
        }
        catch (IOException e) when (e is not DirectoryNotFoundException and not FileNotFoundException)
        {
            return null;
        }
    }

    /// <summary>Waits for the lock until <paramref name="cancellationToken"/> fires.</summary>
    public static async Task<FileLock> AcquireAsync(string path, CancellationToken cancellationToken)
    {
        while (true)
        {
            var held = TryAcquire(path);
            if (held is not null)
            {
                return held;
            }

            await Task.Delay(PollInterval, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public void Dispose() => _stream.Dispose();
}
