using System.Runtime.InteropServices;
using Isola.Ttrpc.Native;

namespace Isola.Ttrpc.Transports;

/// <summary>
/// connect(2) on an AF_VSOCK socket that a cancellation really stops. A blocking connect cannot be interrupted: the
/// thread stays in the kernel until the connect times out (2 s by default, longer if configured) even after its
/// caller gave up and closed the descriptor. So the socket is non-blocking, connect returns EINPROGRESS, and a
/// thread waits in poll(2) for the socket to become writable or for an eventfd the cancellation signals; cancelling
/// wakes it at once and the descriptor is closed before the caller sees the cancellation.
/// </summary>
internal static class VsockConnect
{
    /// <summary>Connects and returns the descriptor (back in blocking mode), or throws: Unavailable naming the address,
    /// or <see cref="OperationCanceledException"/> with nothing left behind.</summary>
    public static async Task<int> ConnectAsync(uint cid, uint port, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var fd = LibC.socket(LibC.AF_VSOCK, LibC.SOCK_STREAM | LibC.SOCK_CLOEXEC | LibC.SOCK_NONBLOCK, 0);
        if (fd < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            throw TtrpcException.Unavailable($"cannot create a vsock socket for vsock://{cid}:{port}: {LibC.ErrorText(errno)} (is the vsock module loaded?)");
        }

        try
        {
            if (!StartConnect(fd, cid, port))
            {
                await WaitConnectedAsync(fd, cid, port, cancellationToken).ConfigureAwait(false);
            }

            // The Socket that wraps it expects the mode a plain socket(2) has.
            var flags = LibC.fcntl(fd, LibC.F_GETFL, 0);
            if (flags < 0 || LibC.fcntl(fd, LibC.F_SETFL, flags & ~LibC.O_NONBLOCK) < 0)
            {
                throw Failure(cid, port, Marshal.GetLastPInvokeError());
            }

            return fd;
        }
        catch
        {
            LibC.close(fd);
            throw;
        }
    }

    /// <summary>True when connected at once; false when the connect is in progress.</summary>
    private static unsafe bool StartConnect(int fd, uint cid, uint port)
    {
        var address = new LibC.SockaddrVm { Family = LibC.AF_VSOCK, Port = port, Cid = cid };
        while (LibC.connect(fd, &address, (uint)sizeof(LibC.SockaddrVm)) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            if (errno == LibC.EINPROGRESS)
            {
                return false;
            }

            if (errno != LibC.EINTR)
            {
                throw Failure(cid, port, errno);
            }
        }

        return true;
    }

    private static async Task WaitConnectedAsync(int fd, uint cid, uint port, CancellationToken cancellationToken)
    {
        var wake = LibC.eventfd(0, LibC.EFD_CLOEXEC);
        if (wake < 0)
        {
            throw Failure(cid, port, Marshal.GetLastPInvokeError());
        }

        try
        {
            bool connected;
            var registration = cancellationToken.Register(static state => Signal((int)state!), wake);
            try
            {
                // A thread of its own: the poll blocks for up to the kernel's connect timeout, and a busy thread pool
                // must not delay it (or the cancellation it waits for).
                connected = await Task.Factory.StartNew(() => PollConnected(fd, wake), CancellationToken.None,
                    TaskCreationOptions.LongRunning, TaskScheduler.Default).ConfigureAwait(false);
            }
            finally
            {
                // Waits for a running callback, so the eventfd is not written after it is closed.
                await registration.DisposeAsync().ConfigureAwait(false);
            }

            if (!connected)
            {
                throw new OperationCanceledException($"connect to vsock://{cid}:{port} was cancelled", cancellationToken);
            }
        }
        finally
        {
            LibC.close(wake);
        }

        if (PendingError(fd) is var error and not 0)
        {
            throw Failure(cid, port, error);
        }
    }

    /// <summary>How the connect ended: 0, or its errno.</summary>
    private static unsafe int PendingError(int fd)
    {
        int error;
        var length = (uint)sizeof(int);
        return LibC.getsockopt(fd, LibC.SOL_SOCKET, LibC.SO_ERROR, &error, &length) == 0 ? error : Marshal.GetLastPInvokeError();
    }

    /// <summary>Blocks until the connect finished (true, successful or not) or the eventfd was signalled (false).</summary>
    private static unsafe bool PollConnected(int fd, int wake)
    {
        var fds = stackalloc LibC.PollFd[2];
        fds[0] = new LibC.PollFd { Fd = fd, Events = LibC.POLLOUT };
        fds[1] = new LibC.PollFd { Fd = wake, Events = LibC.POLLIN };
        while (true)
        {
            if (LibC.poll(fds, 2, -1) < 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                if (errno == LibC.EINTR)
                {
                    continue;
                }

                throw TtrpcException.Unavailable($"poll on a vsock connect failed: {LibC.ErrorText(errno)}");
            }

            if (fds[1].Revents != 0)
            {
                return false;
            }

            if (fds[0].Revents != 0)
            {
                return true; // writable, or POLLERR/POLLHUP: SO_ERROR tells which
            }
        }
    }

    private static unsafe void Signal(int wake)
    {
        ulong one = 1;
        _ = LibC.write(wake, &one, sizeof(ulong));
    }

    private static TtrpcException Failure(uint cid, uint port, int errno) =>
        TtrpcException.Unavailable($"cannot connect to vsock://{cid}:{port}: {LibC.ErrorText(errno)}");
}
