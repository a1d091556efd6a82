using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Isola.TaskApi.Protos.Streaming;
using Isola.TaskApi.Protos.Transfer;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;

namespace Isola.Agent.Streaming;

/// <summary>
/// A process's stdin fed by the host over the agent channel: the agent grants the host a window of bytes
/// (WindowUpdate), writes each Data message into the process's stdin pipe and grants as much again once written. When
/// the host closes its side, the pipe is closed and the process reads EOF. If the host's connection drops first, the
/// relay waits for the next host to open the stream again.
/// </summary>
internal sealed class InputRelay : IDisposable
{
    private const int Window = 64 * 1024;

    private readonly StreamSlot _slot;
    private readonly FileStream _pipe;
    private readonly ILogger _logger;

    public InputRelay(StreamSlot slot, SafeFileHandle writer, ILogger logger)
    {
        _slot = slot;
        _pipe = new FileStream(writer, FileAccess.Write, bufferSize: 0);
        _logger = logger;
        Fed = FeedAsync();
    }

    /// <summary>Completes when the process's stdin was closed.</summary>
    public Task Fed { get; }

    public void Dispose()
    {
        _slot.Close();
        _pipe.Dispose();
    }

    private async Task FeedAsync()
    {
        try
        {
            while (true)
            {
                var attachment = await _slot.NextAsync().ConfigureAwait(false);
                if (await FeedFromAsync(attachment).ConfigureAwait(false))
                {
                    _slot.Detach(attachment);
                    return;
                }
            }
        }
        catch (OperationCanceledException)
        {
            // the slot closed: the process is gone
        }
        finally
        {
            _pipe.Dispose();
        }
    }

    /// <summary>True when stdin is finished (the host closed it, or the process no longer reads it); false when the
    /// host's connection dropped and a later host may go on.</summary>
    private async Task<bool> FeedFromAsync(Attachment attachment)
    {
        var stream = attachment.Stream;
        try
        {
            await stream.SendAsync(WindowUpdate(Window), attachment.ConnectionClosing).ConfigureAwait(false);
            while (await stream.ReadAsync(attachment.ConnectionClosing).ConfigureAwait(false) is { } frame)
            {
                var any = Any.Parser.ParseFrom(frame.Span);
                if (!any.TypeUrl.EndsWith(StdioStreaming.DataTypeUrl, StringComparison.Ordinal))
                {
                    continue;
                }

                var data = Data.Parser.ParseFrom(any.Value).Data_;
                await _pipe.WriteAsync(data.Memory).ConfigureAwait(false);
                await stream.SendAsync(WindowUpdate(data.Length), attachment.ConnectionClosing).ConfigureAwait(false);
            }

            return !attachment.ConnectionClosing.IsCancellationRequested;
        }
        catch (OperationCanceledException) when (attachment.ConnectionClosing.IsCancellationRequested)
        {
            return false;
        }
        catch (InvalidProtocolBufferException e)
        {
            _logger.LogWarning("stream {Id}: a malformed message from the host: {Error}", _slot.Id, e.Message);
            return true;
        }
        catch (IOException e) when (attachment.ConnectionClosing.IsCancellationRequested)
        {
            _logger.LogDebug("stream {Id}: the host went away: {Error}", _slot.Id, e.Message);
            return false;
        }
        catch (IOException e)
        {
            _logger.LogDebug("stream {Id}: the process no longer reads stdin: {Error}", _slot.Id, e.Message);
            return true;
        }
        catch (ObjectDisposedException)
        {
            return true; // the relay was disposed: the process is gone
        }
    }

    private static Any WindowUpdate(int bytes) =>
        new() { TypeUrl = StdioStreaming.WindowUpdateTypeUrl, Value = new WindowUpdate { Update = bytes }.ToByteString() };
}
