using Isola.Plugins.Shim.Native;

namespace Isola.Plugins.Shim.Events;

/// <summary>
/// flock(2) on a directory, shared between processes: shim launches hold it shared, the tidy-up that may unlink the
/// events endpoint holds it exclusively. The directory is never removed, so (unlike a lock file) there is no race
/// between unlinking the lock and another process opening it.
/// </summary>
internal sealed class DirectoryLock : IDisposable
{
    private int _fd;

    private DirectoryLock(int fd) => _fd = fd;

    /// <summary>Waits for a shared lock on <paramref name="directory"/> (an exclusive holder only scans /proc briefly).</summary>
    public static DirectoryLock Shared(string directory) => Take(directory, LibC.LOCK_SH)!;

    /// <summary>An exclusive lock on <paramref name="directory"/>, or null at once when someone holds it.</summary>
    public static DirectoryLock? TryExclusive(string directory) => Take(directory, LibC.LOCK_EX | LibC.LOCK_NB);

    /// <summary>An exclusive lock on <paramref name="directory"/>, trying for up to <paramref name="patience"/>: shared
    /// holders come and go within tens of milliseconds, and a blocking flock could wait behind a stream of them.</summary>
    public static async Task<DirectoryLock?> TryExclusiveAsync(string directory, TimeSpan patience)
    {
        var deadline = Environment.TickCount64 + (long)patience.TotalMilliseconds;
        while (true)
        {
            if (TryExclusive(directory) is { } held)
            {
                return held;
            }

            if (Environment.TickCount64 >= deadline)
            {
                return null;
            }

            await Task.Delay(10).ConfigureAwait(false);
        }
    }

    public void Dispose()
    {
        var fd = Interlocked.Exchange(ref _fd, -1);
        if (fd >= 0)
        {
            LibC.close(fd); // closing the last descriptor releases the lock
        }
    }

    private static DirectoryLock? Take(string directory, int operation)
    {
        var fd = LibC.open(directory, LibC.O_RDONLY | LibC.O_CLOEXEC, 0);
        if (fd < 0)
        {
            throw IsolaException.Internal($"cannot open {directory} to lock it: {LibC.LastError()}");
        }

        while (LibC.flock(fd, operation) != 0)
        {
            var errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
            if (errno == LibC.EINTR)
            {
                continue;
            }

            var error = LibC.LastError();
            LibC.close(fd);
            return errno == LibC.EWOULDBLOCK && (operation & LibC.LOCK_NB) != 0
                ? null
                : throw IsolaException.Internal($"cannot lock {directory}: {error}");
        }

        return new DirectoryLock(fd);
    }
}
