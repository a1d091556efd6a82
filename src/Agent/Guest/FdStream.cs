using System.Runtime.InteropServices;
using Isola.Agent.Native;

namespace Isola.Agent.Guest;

/// <summary>
/// A duplex Stream over a character device's file descriptor whose reads and writes are independent: each blocks its
/// own thread in read(2) or write(2). The base Stream's async methods serialise a read with a write, which deadlocks a
/// multiplexed protocol such as ttrpc (a pending read of the next request would hold back every response).
/// </summary>
internal sealed unsafe class FdStream : Stream
{
    private readonly bool _ownsFd;
    private readonly object _readLock = new();
    private readonly SemaphoreSlim _readRequested = new(0);
    private int _fd;

    // One reader thread per stream, blocking in read(2) for one ReadAsync at a time: a thread started per read cost a
    // few milliseconds each under TCG, twice per ttrpc frame (header, then body), on every call's path.
    private Thread? _reader;
    private Memory<byte> _readBuffer;
    private TaskCompletionSource<int>? _readResult;

    /// <param name="fd">The descriptor.</param>
    /// <param name="ownsFd">Whether disposing closes it; otherwise disposing only stops this stream from using it.</param>
    public FdStream(int fd, bool ownsFd = true)
    {
        _fd = fd;
        _ownsFd = ownsFd;
    }

    public override bool CanRead => true;

    public override bool CanWrite => true;

    public override bool CanSeek => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        while (true)
        {
            nint n;
            fixed (byte* p = buffer)
            {
                n = LibC.read(Fd, p, buffer.Length);
            }

            if (n >= 0)
            {
                return (int)n; // 0: the host side closed (virtio-serial reports EOF while no host is connected)
            }

            if (Marshal.GetLastPInvokeError() != LibC.EINTR)
            {
                throw new IOException($"read from the agent port: {LibC.LastError()}");
            }
        }
    }

    /// <summary>Not cancellable once handed to the reader thread (nor was read(2) before): the descriptor's data would
    /// be lost to nobody.</summary>
    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<int>(cancellationToken);
        }

        var result = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_readLock)
        {
            ObjectDisposedException.ThrowIf(_fd < 0, this);
            if (_readResult is not null)
            {
                throw new InvalidOperationException("FdStream serves one read at a time");
            }

            _readBuffer = buffer;
            _readResult = result;
            if (_reader is null)
            {
                _reader = new Thread(ReadLoop) { IsBackground = true, Name = "fd-read" };
                _reader.Start();
            }
        }

        _readRequested.Release();
        return new ValueTask<int>(result.Task);
    }

    private void ReadLoop()
    {
        while (true)
        {
            _readRequested.Wait();
            Memory<byte> buffer;
            TaskCompletionSource<int>? result;
            lock (_readLock)
            {
                (buffer, result) = (_readBuffer, _readResult);
                (_readBuffer, _readResult) = (default, null); // cleared first: the continuation may read again at once
            }

            if (result is null)
            {
                return; // disposed
            }

            try
            {
                result.SetResult(Read(buffer.Span));
            }
            catch (Exception e)
            {
                result.SetException(e);
            }
        }
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        while (!buffer.IsEmpty)
        {
            nint n;
            fixed (byte* p = buffer)
            {
                n = LibC.write(Fd, p, buffer.Length);
            }

            if (n > 0)
            {
                buffer = buffer[(int)n..];
            }
            else if (n < 0 && Marshal.GetLastPInvokeError() != LibC.EINTR)
            {
                throw new IOException($"write to the agent port: {LibC.LastError()}");
            }
        }
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
        new(Task.Run(() => Write(buffer.Span), cancellationToken));

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush()
    {
    }

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    private int Fd => _fd >= 0 ? _fd : throw new ObjectDisposedException(nameof(FdStream));

    protected override void Dispose(bool disposing)
    {
        var fd = Interlocked.Exchange(ref _fd, -1);
        if (fd >= 0 && _ownsFd)
        {
            LibC.close(fd);
        }

        if (fd >= 0)
        {
            // Ends the reader thread once it is back from a read in progress, if any.
            _readRequested.Release();
        }

        base.Dispose(disposing);
    }
}
