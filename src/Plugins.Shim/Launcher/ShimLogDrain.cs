using Isola.Plugins.Shim.Native;
using Microsoft.Extensions.Logging;

namespace Isola.Plugins.Shim.Launcher;

/// <summary>
/// Copies what shims write to their bundle's <c>log</c> FIFO into each sandbox's log file. The FIFO is opened
/// read-write (so opening never blocks and the shim never sees a missing reader) and non-blocking, and one timer
/// polls all of them: one blocked thread per pod would not scale, and .NET has no async FIFO reads.
/// </summary>
internal sealed class ShimLogDrain : IDisposable
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(250);
    private readonly Dictionary<string, (int Fd, string LogFile)> _fifos = [];
    private readonly ILogger _logger;
    private readonly Timer _timer;

    public ShimLogDrain(ILogger logger)
    {
        _logger = logger;
        _timer = new Timer(_ => DrainAll(), null, Interval, Interval);
    }

    /// <summary>Creates <paramref name="fifoPath"/> (replacing a stale one unless <paramref name="reuse"/>) and starts
    /// copying it to <paramref name="logFile"/>. Must run before the shim starts: it opens the FIFO for writing.</summary>
    public void Attach(string key, string fifoPath, string logFile, bool reuse = false)
    {
        if (!reuse && File.Exists(fifoPath))
        {
            File.Delete(fifoPath);
        }

        if (LibC.mkfifo(fifoPath, Convert.ToUInt32("600", 8)) != 0 && !(reuse && File.Exists(fifoPath)))
        {
            throw IsolaException.Internal($"cannot create the shim log FIFO {fifoPath}: {LibC.LastError()}");
        }

        var fd = LibC.open(fifoPath, LibC.O_RDWR | LibC.O_NONBLOCK | LibC.O_CLOEXEC, 0);
        if (fd < 0)
        {
            throw IsolaException.Internal($"cannot open the shim log FIFO {fifoPath}: {LibC.LastError()}");
        }

        lock (_fifos)
        {
            if (_fifos.Remove(key, out var old))
            {
                LibC.close(old.Fd);
            }

            _fifos[key] = (fd, logFile);
        }
    }

    /// <summary>True when <paramref name="key"/> is being drained.</summary>
    public bool IsAttached(string key)
    {
        lock (_fifos)
        {
            return _fifos.ContainsKey(key);
        }
    }

    /// <summary>Copies what is left and stops draining <paramref name="key"/>.</summary>
    public void Detach(string key)
    {
        lock (_fifos)
        {
            if (_fifos.Remove(key, out var entry))
            {
                Drain(entry.Fd, entry.LogFile);
                LibC.close(entry.Fd);
            }
        }
    }

    private void DrainAll()
    {
        lock (_fifos)
        {
            foreach (var (fd, logFile) in _fifos.Values)
            {
                Drain(fd, logFile);
            }
        }
    }

    private unsafe void Drain(int fd, string logFile)
    {
        var buffer = stackalloc byte[8192];
        FileStream? output = null;
        try
        {
            while (true)
            {
                var n = LibC.read(fd, buffer, 8192);
                if (n <= 0)
                {
                    return; // EAGAIN: nothing more for now
                }

                output ??= new FileStream(logFile, FileMode.Append, FileAccess.Write, FileShare.ReadWrite);
                output.Write(new ReadOnlySpan<byte>(buffer, (int)n));
            }
        }
        catch (IOException e)
        {
            _logger.LogWarning("cannot copy shim log to {LogFile}: {Error}", logFile, e.Message);
        }
        finally
        {
            output?.Dispose();
        }
    }

    public void Dispose()
    {
        _timer.Dispose();
        lock (_fifos)
        {
            foreach (var (fd, logFile) in _fifos.Values)
            {
                Drain(fd, logFile);
                LibC.close(fd);
            }

            _fifos.Clear();
        }
    }
}
