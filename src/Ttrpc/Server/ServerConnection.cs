using System.Collections.Concurrent;
using Google.Protobuf;
using Isola.Ttrpc.Framing;
using Isola.Ttrpc.Wire;
using Microsoft.Extensions.Logging;

namespace Isola.Ttrpc.Server;

/// <summary>One accepted connection: a reader loop dispatching Requests to handlers and Data frames to open streams.</summary>
internal sealed class ServerConnection : IAsyncDisposable
{
    private readonly TtrpcServer _server;
    private readonly FrameChannel _channel;
    private readonly string _peer;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _closing;
    private readonly ConcurrentDictionary<uint, TtrpcServerStream> _streams = new();
    private readonly ConcurrentDictionary<Task, byte> _inFlight = new();

    public ServerConnection(TtrpcServer server, Stream stream, string peer, ILogger logger, CancellationToken serverStopping)
    {
        _server = server;
        _channel = new FrameChannel(stream);
        _peer = peer;
        _logger = logger;
        _closing = CancellationTokenSource.CreateLinkedTokenSource(serverStopping);
    }

    public async Task RunAsync()
    {
        try
        {
            while (await _channel.ReadAsync(_closing.Token).ConfigureAwait(false) is { } frame)
            {
                OnFrame(frame);
            }
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException or EndOfStreamException)
        {
            _logger.LogDebug("ttrpc connection on {Peer} ended: {Reason}", _peer, e.Message);
        }
        catch (Exception e)
        {
            // Closed rather than left to an unobserved task: the other calls on it fail over to a new connection.
            _logger.LogWarning(e, "ttrpc connection on {Peer} closed after an unexpected error", _peer);
        }
        finally
        {
            await _closing.CancelAsync().ConfigureAwait(false);
            foreach (var stream in _streams.Values)
            {
                stream.OnClosed();
            }

            await Task.WhenAll(_inFlight.Keys).ConfigureAwait(false);
            await _channel.DisposeAsync().ConfigureAwait(false);
        }
    }

    private void OnFrame(Frame frame)
    {
        var id = frame.Header.StreamId;
        switch (frame.Header.Type)
        {
            case FrameType.Request when id % 2 == 0:
                Track(RespondAsync(id, Error(TtrpcStatusCode.InvalidArgument, "stream id must be odd")));
                break;
            case FrameType.Request when frame.Oversized:
                Track(RespondAsync(id, Error(TtrpcStatusCode.ResourceExhausted,
                    $"message length {frame.Header.Length} exceeds maximum message size of {FrameHeader.MaxDataLength}")));
                break;
            case FrameType.Request:
                Request request;
                try
                {
                    request = Request.Parser.ParseFrom(frame.Data.Span);
                }
                catch (InvalidProtocolBufferException e)
                {
                    // A bad frame fails its own call, not the connection: the frame boundaries are still intact.
                    Track(RespondAsync(id, Error(TtrpcStatusCode.InvalidArgument, $"malformed ttrpc request: {e.Message}")));
                    break;
                }

                OnRequest(id, frame.Header.Flags, request);
                break;
            case FrameType.Data when _streams.TryGetValue(id, out var stream) && !frame.Oversized:
                stream.OnData(frame.Data, frame.Header.Flags);
                break;
            default:
                _logger.LogDebug("ttrpc on {Peer}: dropped a {Type} frame for stream {Id}", _peer, frame.Header.Type, id);
                break;
        }
    }

    private void Track(Task task)
    {
        _inFlight[task] = 0;
        _ = task.ContinueWith(t => _inFlight.TryRemove(t, out _), TaskScheduler.Default);
    }

    private void OnRequest(uint id, byte flags, Request request)
    {
        var method = _server.Find(request.Service, request.Method);
        if (method is null)
        {
            Track(RespondAsync(id, Error(TtrpcStatusCode.Unimplemented, $"{request.Service}/{request.Method} is not served here")));
            return;
        }

        // Registered before the next frame is read: the client's Data frames may follow the Request immediately.
        TtrpcServerStream? stream = null;
        if (method.Streaming)
        {
            stream = new TtrpcServerStream(_channel, id, request.Payload.Memory, clientClosed: (flags & FrameFlags.RemoteOpen) == 0);
            _streams[id] = stream;
        }

        Track(HandleAsync(id, method, stream, request));
    }

    private async Task HandleAsync(uint id, TtrpcServer.Method method, TtrpcServerStream? stream, Request request)
    {
        await Task.Yield(); // leave the reader loop free for other frames

        using var deadline = request.TimeoutNano > 0 ? new CancellationTokenSource(TimeSpan.FromTicks(request.TimeoutNano / 100)) : null;
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(_closing.Token, deadline?.Token ?? CancellationToken.None);
        var context = new TtrpcCallContext(request.Service, request.Method,
            request.Metadata.Select(kv => KeyValuePair.Create(kv.Key, kv.Value)).ToList(),
            request.TimeoutNano > 0 ? DateTimeOffset.UtcNow.AddTicks(request.TimeoutNano / 100) : null,
            linked.Token);

        Response response;
        try
        {
            var payload = await method.Handle(request.Payload.Memory, stream, context).ConfigureAwait(false);
            // Not copied: the handler's buffer is not touched again, and is written out before this method returns.
            response = new Response { Status = new Wire.Status(), Payload = UnsafeByteOperations.UnsafeWrap(payload) };
        }
        catch (OperationCanceledException) when (deadline?.IsCancellationRequested == true)
        {
            response = Error(TtrpcStatusCode.DeadlineExceeded, "timeout");
        }
        catch (Exception e)
        {
            response = new Response { Status = new Wire.Status { Code = (int)_server.StatusOf(e), Message = e.Message } };
        }
        finally
        {
            _streams.TryRemove(id, out _);
        }

        await RespondAsync(id, response).ConfigureAwait(false);
    }

    private async Task RespondAsync(uint id, Response response)
    {
        try
        {
            var size = response.CalculateSize();
            if (size > FrameHeader.MaxDataLength)
            {
                response = Error(TtrpcStatusCode.ResourceExhausted,
                    $"response of {size} bytes exceeds maximum message size of {FrameHeader.MaxDataLength}");
            }

            await _channel.WriteAsync(id, FrameType.Response, 0, response, _closing.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException)
        {
            _logger.LogDebug("ttrpc on {Peer}: could not answer stream {Id}: {Reason}", _peer, id, e.Message);
        }
    }

    private static Response Error(TtrpcStatusCode code, string message) =>
        new() { Status = new Wire.Status { Code = (int)code, Message = message } };

    public async ValueTask DisposeAsync()
    {
        await _closing.CancelAsync().ConfigureAwait(false);
        await _channel.DisposeAsync().ConfigureAwait(false);
    }
}
