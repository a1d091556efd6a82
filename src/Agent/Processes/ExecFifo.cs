using System.Runtime.InteropServices;
using Isola.Agent.Native;

namespace Isola.Agent.Processes;

/// <summary>
/// Starts a created container the way `runc start` does, without running runc again: `runc create` leaves the
/// container's init blocked opening `ROOT/ID/exec.fifo` for writing; a reader lets it through, it writes one byte and
/// execs the user process (closing the fifo), and the fifo is then removed, which is how runc tells a running
/// container from a created one. Under TCG a runc process costs about 0.4 s, a quarter of a container's start, so the
/// agent does this itself. Used only when the fifo is there (runc and crun keep it at that path); otherwise the caller
/// runs `runc start`.
/// </summary>
internal static class ExecFifo
{
    private static readonly TimeSpan s_checkInterval = TimeSpan.FromMilliseconds(100);

    /// <summary>The fifo of container <paramref name="id"/> under runc's <paramref name="root"/>, or null without one.</summary>
    public static string? Find(string root, string id) =>
        Path.Combine(root, id, "exec.fifo") is var path && File.Exists(path) ? path : null;

    /// <summary>Lets the init (pid <paramref name="initPid"/>) run the user process; returns once it has exec'd it.</summary>
    /// <exception cref="RuncException">The init died before it could start the process, or the fifo is unusable.</exception>
    public static Task StartAsync(string fifo, int initPid) => Task.Factory.StartNew(() => Start(fifo, initPid),
        CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    private static unsafe void Start(string fifo, int initPid)
    {
        // Non-blocking, so a dead init cannot leave us blocked in open(2); poll waits for the writer instead (Linux does
        // not report POLLHUP to a reader before any writer has opened the fifo).
        var fd = LibC.open(fifo, LibC.O_RDONLY | LibC.O_NONBLOCK | LibC.O_CLOEXEC, 0);
        if (fd < 0)
        {
            throw new RuncException("start", $"cannot open {fifo}: {LibC.LastError()}");
        }

        try
        {
            var received = 0;
            var buffer = stackalloc byte[16];
            while (true)
            {
                var poll = new LibC.PollFd { Fd = fd, Events = LibC.POLLIN };
                var ready = LibC.poll(&poll, 1, (int)s_checkInterval.TotalMilliseconds);
                if (ready < 0 && Marshal.GetLastPInvokeError() != LibC.EINTR)
                {
                    throw new RuncException("start", $"poll on {fifo}: {LibC.LastError()}");
                }

                if (ready > 0)
                {
                    var n = LibC.read(fd, buffer, 16);
                    if (n > 0)
                    {
                        received += (int)n;
                        continue;
                    }

                    if (n == 0 && received > 0)
                    {
                        break; // the init exec'd the user process: its end of the fifo closed
                    }

                    if (n == 0)
                    {
                        // A writer came and went without its byte: only a dying init does that.
                        if (!IsAlive(initPid))
                        {
                            throw new RuncException("start", "the container's init process died before it started the user process");
                        }

                        Thread.Sleep(10);
                        continue;
                    }

                    if (n < 0 && Marshal.GetLastPInvokeError() is not (LibC.EAGAIN or LibC.EINTR))
                    {
                        throw new RuncException("start", $"read of {fifo}: {LibC.LastError()}");
                    }
                }
                else if (!IsAlive(initPid))
                {
                    // It may have run and exited between two checks: then its byte is waiting.
                    if (received > 0 || LibC.read(fd, buffer, 16) > 0)
                    {
                        break;
                    }

                    throw new RuncException("start", "the container's init process died before it started the user process");
                }
            }
        }
        finally
        {
            LibC.close(fd);
        }

        File.Delete(fifo);
    }

    private static bool IsAlive(int pid)
    {
        try
        {
            // A zombie (reaped a moment later) counts as dead.
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..].FirstOrDefault() is not ('Z' or 'X');
        }
        catch (IOException)
        {
            return false;
        }
    }
}
