using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Isola.TaskApi.Protos.Streaming;
using Isola.TaskApi.Protos.Transfer;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;

namespace Isola.Agent.Streaming;

/// <summary>
/// A process's stdout or stderr carried to the host over the agent channel: a thread drains the pipe, and a sender sends
/// each chunk as a Data message on the host's stream for the slot. While no host is attached (between two host
/// processes) the output is held, up to <see cref="HeldLimit"/> bytes; beyond that the pipe is not drained, so the
/// process blocks on write until a host attaches (no output is ever dropped). At the pipe's end, once everything
/// held has been sent, the host's stream ends with OK: that is how the host knows the output is complete.
/// </summary>
internal sealed class OutputRelay : IDisposable
{
    public const int HeldLimit = 1 << 20;
    private const int ChunkSize = 32 * 1024;

    private readonly object _gate = new();
    private readonly Queue<byte[]> _held = new();
    private readonly SemaphoreSlim _wake = new(0);
    private readonly StreamSlot _slot;
    private readonly SafeFileHandle _reader;
    private readonly ILogger _logger;
    private long _heldBytes;
    private bool _ended;

    public OutputRelay(StreamSlot slot, SafeFileHandle reader, ILogger logger)
    {
        _slot = slot;
        _reader = reader;
        _logger = logger;
        slot.Attached = () => _wake.Release();
        Drained = Task.Factory.StartNew(Drain, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        Sent = SendAsync();
    }

    /// <summary>Completes when the pipe reached its end (every writer closed it) or the relay was disposed.</summary>
    public Task Drained { get; }

    /// <summary>Completes when everything was sent and the host's stream ended, or the relay was disposed.</summary>
    public Task Sent { get; }

    public void Dispose()
    {
        _slot.Close();
        lock (_gate)
        {
            Monitor.PulseAll(_gate);
        }

        _reader.Dispose();
    }

    private void Drain()
    {
        using var pipe = new FileStream(_reader, FileAccess.Read, bufferSize: 0);
        var buffer = new byte[ChunkSize];
        try
        {
            int n;
            while ((n = pipe.Read(buffer, 0, buffer.Length)) > 0)
            {
                lock (_gate)
                {
                    while (_heldBytes >= HeldLimit && !_slot.IsClosed)
                    {
                        Monitor.Wait(_gate); // the process blocks on its full pipe until a host takes the output
                    }

                    _held.Enqueue(buffer.AsSpan(0, n).ToArray());
                    _heldBytes += n;
                }

                _wake.Release();
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            _logger.LogDebug("stream {Id}: reading the pipe stopped: {Error}", _slot.Id, e.Message);
        }
        finally
        {
            lock (_gate)
            {
                _ended = true;
            }

            _wake.Release();
        }
    }

    private async Task SendAsync()
    {
        while (!_slot.IsClosed)
        {
            await _wake.WaitAsync().ConfigureAwait(false);
            if (_slot.Current is not { } attachment || !await FlushAsync(attachment).ConfigureAwait(false))
            {
                continue;
            }

            bool done;
            lock (_gate)
            {
                done = _ended && _held.Count == 0;
            }

            if (done)
            {
                _slot.Detach(attachment); // its handler returns: the stream ends with OK after the last Data
                return;
            }
        }
    }

    /// <summary>Sends what is held, in order; false when the host went away (what was not sent stays held).</summary>
    private async Task<bool> FlushAsync(Attachment attachment)
    {
        while (true)
        {
            byte[] chunk;
            lock (_gate)
            {
                if (!_held.TryPeek(out chunk!))
                {
                    return true;
                }
            }

            try
            {
                var message = new Any { TypeUrl = StdioStreaming.DataTypeUrl, Value = new Data { Data_ = ByteString.CopyFrom(chunk) }.ToByteString() };
                await attachment.Stream.SendAsync(message, attachment.ConnectionClosing).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException or OperationCanceledException)
            {
                _logger.LogDebug("stream {Id}: the host went away ({Error}); holding the output", _slot.Id, e.Message);
                _slot.Detach(attachment);
                return false;
            }

            lock (_gate)
            {
                _held.Dequeue();
                _heldBytes -= chunk.Length;
                Monitor.PulseAll(_gate);
            }
        }
    }
}
