using Isola.Plugins.StratoVirt.Native;

namespace Isola.Plugins.StratoVirt.Vmm.Processes;

/// <summary>
/// Waits for a process that is not our child: a -daemonize'd VMM is re-parented to init, so waitpid cannot see it.
/// Uses pidfd_open(2) + poll(2), which wakes exactly when the process exits (Linux 5.3+); cancellation wakes the poll
/// through an eventfd. Where pidfd_open is unavailable (old kernel, seccomp) it falls back to polling /proc every
/// 50 ms, comparing the start time so a recycled pid does not look alive.
/// </summary>
internal static class ProcessExitWatcher
{
    /// <summary>Completes when <paramref name="process"/> has exited. Returns at once if it already has.</summary>
    public static Task WaitForExitAsync(ProcessIdentity process, CancellationToken cancellationToken)
    {
        if (!process.IsAlive())
        {
            return Task.CompletedTask;
        }

        var pidfd = LibC.PidfdOpen(process.Pid);
        if (pidfd < 0)
        {
            return PollProcAsync(process, cancellationToken);
        }

        // The pid could have been recycled between IsAlive and pidfd_open; re-check now that the fd pins the process.
        if (!process.IsAlive())
        {
            LibC.Close(pidfd);
            return Task.CompletedTask;
        }

        return Task.Factory.StartNew(() => PollPidfd(pidfd, cancellationToken), CancellationToken.None,
            TaskCreationOptions.LongRunning, TaskScheduler.Default);
    }

    private static unsafe void PollPidfd(int pidfd, CancellationToken cancellationToken)
    {
        var wake = LibC.EventFd(0, LibC.O_CLOEXEC);
        try
        {
            using var reg = cancellationToken.Register(() =>
            {
                ulong one = 1;
                LibC.Write(wake, &one, sizeof(ulong));
            });
            var fds = stackalloc LibC.PollFd[2];
            fds[0] = new LibC.PollFd { Fd = pidfd, Events = LibC.POLLIN };
            fds[1] = new LibC.PollFd { Fd = wake, Events = LibC.POLLIN };
            while (true)
            {
                var n = LibC.Poll(fds, wake >= 0 ? 2u : 1u, wake >= 0 ? -1 : 100);
                if (n < 0 && System.Runtime.InteropServices.Marshal.GetLastPInvokeError() != LibC.EINTR)
                {
                    throw new IOException("poll on pidfd failed: " + LibC.LastError());
                }

                if ((fds[0].REvents & LibC.POLLIN) != 0)
                {
                    return;
                }

                cancellationToken.ThrowIfCancellationRequested();
            }
        }
        finally
        {
            LibC.Close(pidfd);
            if (wake >= 0)
            {
                LibC.Close(wake);
            }
        }
    }

    internal static async Task PollProcAsync(ProcessIdentity process, CancellationToken cancellationToken)
    {
        while (process.IsAlive())
        {
            await Task.Delay(50, cancellationToken).ConfigureAwait(false);
        }
    }
}
