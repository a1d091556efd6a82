using System.Collections.Concurrent;
using Google.Protobuf;
using Isola.Ttrpc.Framing;
using Isola.Ttrpc.Transports;
using Isola.Ttrpc.Wire;

namespace Isola.Ttrpc.Client;

/// <summary>
/// A ttrpc client on one connection. Calls from many threads are multiplexed on it with odd stream ids, and their
/// responses may arrive in any order. When the connection is lost every pending call fails with
/// <see cref="TtrpcStatusCode.Unavailable"/>, and so does every later call.
/// </summary>
/// <remarks>Hand-written: there is no maintained ttrpc library for .NET, and Grpc.Net.Client speaks HTTP/2 only.</remarks>
public sealed class TtrpcClient : IAsyncDisposable
{
    private readonly FrameChannel _channel;
    private readonly TtrpcClientOptions _options;
    private readonly ConcurrentDictionary<uint, PendingCall> _pending = new();
    private readonly CancellationTokenSource _disposing = new();
    private readonly Task _readLoop;
    // Stream ids are odd and increasing; each connection starts at a random one. Over a link that cannot tell one
    // connection from the next (a virtio-serial port behind QEMU's socket chardev), a late answer meant for the
    // previous host process then cannot pass for one of this connection's calls.
    private long _lastStreamId = -1 + (2L * Random.Shared.Next(0, 1 << 20));
    private volatile TtrpcException? _closed;

    /// <summary>Starts a client on an already connected stream (for example a socket from <see cref="TtrpcTransport"/>).</summary>
    /// <param name="stream">The connection; the client owns and disposes it.</param>
    /// <param name="endpoint">The address it is connected to, for error messages.</param>
    /// <param name="options">Connection settings.</param>
    public TtrpcClient(Stream stream, string endpoint, TtrpcClientOptions? options = null)
    {
        _channel = new FrameChannel(stream);
        Endpoint = endpoint;
        _options = options ?? new TtrpcClientOptions();
        _readLoop = Task.Run(ReadLoopAsync);
    }

    /// <summary>Connects to <paramref name="address"/> (see <see cref="TtrpcTransport.ConnectAsync"/>) and starts a client on it.</summary>
    public static async Task<TtrpcClient> ConnectAsync(string address, TtrpcClientOptions? options = null, CancellationToken cancellationToken = default)
    {
        var stream = await TtrpcTransport.ConnectAsync(address, cancellationToken).ConfigureAwait(false);
        return new TtrpcClient(stream, address, options);
    }

    /// <summary>The address this client talks to.</summary>
    public string Endpoint { get; }

    /// <summary>True until the connection is lost or the client disposed.</summary>
    public bool IsConnected => _closed is null;

    /// <summary>Completes when the connection has closed, for whatever reason. Never faults.</summary>
    public Task Completion => _readLoop;

    /// <summary>Calls a unary method with protobuf messages.</summary>
    /// <param name="service">The fully qualified service, for example <c>containerd.task.v2.Task</c>.</param>
    /// <param name="method">The bare method name, for example <c>Create</c>.</param>
    /// <param name="request">The request message.</param>
    /// <param name="responseParser">The parser of the response message.</param>
    /// <param name="options">Deadline and extra metadata.</param>
    /// <param name="cancellationToken">Abandons the call (the server is not told; ttrpc has no cancel frame).</param>
    public async Task<TResponse> CallAsync<TResponse>(string service, string method, IMessage request,
        MessageParser<TResponse> responseParser, TtrpcCallOptions? options = null, CancellationToken cancellationToken = default)
        where TResponse : IMessage<TResponse>
    {
        var payload = await CallRawAsync(service, method, request.ToByteArray(), options, cancellationToken).ConfigureAwait(false);
        try
        {
            return responseParser.ParseFrom(payload.Span);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw TtrpcException.Internal($"ttrpc {service}/{method} at {Endpoint}: protocol error: the response is not a valid {typeof(TResponse).Name}: {e.Message}", e);
        }
    }

    /// <summary>Calls a unary method with an encoded request; returns the encoded response.</summary>
    public async Task<ReadOnlyMemory<byte>> CallRawAsync(string service, string method, ReadOnlyMemory<byte> payload,
        TtrpcCallOptions? options = null, CancellationToken cancellationToken = default)
    {
        var call = new PendingCall(streaming: false);
        var timeout = EffectiveTimeout(options);
        using var deadline = timeout is { } t ? new CancellationTokenSource(t) : null;
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline?.Token ?? CancellationToken.None);
        var id = Register(call);
        try
        {
            await SendRequestAsync(id, 0, service, method, payload, timeout, options, linked.Token).ConfigureAwait(false);
            var response = await call.Response.Task.WaitAsync(linked.Token).ConfigureAwait(false);
            return Unwrap(response, service, method);
        }
        catch (OperationCanceledException e) when (deadline?.IsCancellationRequested == true && !cancellationToken.IsCancellationRequested)
        {
            throw TtrpcException.DeadlineExceeded($"ttrpc {service}/{method} at {Endpoint}: no answer within {timeout}", e);
        }
        finally
        {
            _pending.TryRemove(id, out _);
        }
    }

    /// <summary>Opens a streaming call. With <paramref name="clientStreams"/> the request flag "remote open" is set and
    /// the caller sends Data frames and closes its side; otherwise the request is sent "remote closed" (server streaming).</summary>
    public async Task<TtrpcClientStream> OpenStreamAsync(string service, string method, ReadOnlyMemory<byte> payload,
        bool clientStreams, TtrpcCallOptions? options = null, CancellationToken cancellationToken = default)
    {
        var call = new PendingCall(streaming: true);
        var id = Register(call);
        try
        {
            var flags = clientStreams ? FrameFlags.RemoteOpen : FrameFlags.RemoteClosed;
            await SendRequestAsync(id, flags, service, method, payload, EffectiveTimeout(options), options, cancellationToken).ConfigureAwait(false);
            return new TtrpcClientStream(this, id, call, $"{service}/{method}");
        }
        catch
        {
            _pending.TryRemove(id, out _);
            throw;
        }
    }

    internal async Task SendDataAsync(uint streamId, byte flags, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        ThrowIfClosed();
        try
        {
            await _channel.WriteAsync(streamId, FrameType.Data, flags, data, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            throw Lost(e);
        }
    }

    internal void Forget(uint streamId) => _pending.TryRemove(streamId, out _);

    // The server's code as sent: what a code means (and which codes fold together) is the application's to decide.
    internal TtrpcException StatusError(Wire.Status status, string what) =>
        new((TtrpcStatusCode)status.Code, $"ttrpc {what} at {Endpoint}: {status.Message}");

    // Timeout.InfiniteTimeSpan in the call's options opts out of the client's default deadline (a blocking Wait, say).
    private TimeSpan? EffectiveTimeout(TtrpcCallOptions? options) =>
        (options?.Timeout ?? _options.DefaultTimeout) is { } t && t != Timeout.InfiniteTimeSpan ? t : null;

    private uint Register(PendingCall call)
    {
        var id = (uint)Interlocked.Add(ref _lastStreamId, 2);
        _pending[id] = call;
        // A connection lost before registration already drained _pending; fail this call as well.
        if (_closed is { } closed)
        {
            _pending.TryRemove(id, out _);
            throw closed;
        }

        return id;
    }

    private async Task SendRequestAsync(uint id, byte flags, string service, string method, ReadOnlyMemory<byte> payload,
        TimeSpan? timeout, TtrpcCallOptions? options, CancellationToken cancellationToken)
    {
        var request = new Request
        {
            Service = service,
            Method = method,
            // Not copied: the caller's buffer outlives the send, which completes before this method returns.
            Payload = UnsafeByteOperations.UnsafeWrap(payload),
            TimeoutNano = timeout is { } t ? (long)(t.TotalMilliseconds * 1_000_000) : 0,
        };
        foreach (var (key, value) in _options.Metadata)
        {
            request.Metadata.Add(new KeyValue { Key = key, Value = value });
        }

        foreach (var (key, value) in options?.Metadata ?? new Dictionary<string, string>())
        {
            request.Metadata.Add(new KeyValue { Key = key, Value = value });
        }

        ThrowIfClosed();
        try
        {
            await _channel.WriteAsync(id, FrameType.Request, flags, request, cancellationToken).ConfigureAwait(false);
        }
        catch (TtrpcException e) when (e.Code == TtrpcStatusCode.ResourceExhausted)
        {
            throw new TtrpcException(e.Code, $"ttrpc {service}/{method} at {Endpoint}: {e.Message}", e);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            throw Lost(e);
        }
    }

    private ReadOnlyMemory<byte> Unwrap(Response response, string service, string method)
    {
        if (response.Status is { Code: not 0 } status)
        {
            throw StatusError(status, $"{service}/{method}");
        }

        return response.Payload.Memory;
    }

    private async Task ReadLoopAsync()
    {
        Exception? cause = null;
        try
        {
            while (await _channel.ReadAsync(_disposing.Token).ConfigureAwait(false) is { } frame)
            {
                Dispatch(frame);
            }
        }
        catch (Exception e)
        {
            cause = e;
        }

        var reason = _disposing.IsCancellationRequested
            ? TtrpcException.Unavailable($"ttrpc connection to {Endpoint} was closed by the client")
            : Lost(cause);
        _closed = reason;
        foreach (var id in _pending.Keys)
        {
            if (_pending.TryRemove(id, out var call))
            {
                call.Fail(reason);
            }
        }
    }

    private void Dispatch(Frame frame)
    {
        if (!_pending.TryGetValue(frame.Header.StreamId, out var call))
        {
            return; // a late answer to a call its caller abandoned
        }

        if (frame.Oversized)
        {
            call.Fail(new TtrpcException(TtrpcStatusCode.ResourceExhausted,
                $"ttrpc response on stream {frame.Header.StreamId} from {Endpoint} has {frame.Header.Length} bytes, over the {FrameHeader.MaxDataLength}-byte limit"));
            return;
        }

        switch (frame.Header.Type)
        {
            case FrameType.Response:
                Response response;
                try
                {
                    response = Response.Parser.ParseFrom(frame.Data.Span);
                }
                catch (InvalidProtocolBufferException e)
                {
                    // Only this call is lost: the frame was whole, so the connection and the other calls go on.
                    call.Fail(TtrpcException.Internal(
                        $"ttrpc protocol error from {Endpoint}: malformed response on stream {frame.Header.StreamId}: {e.Message}", e));
                    break;
                }

                call.Complete(response);
                break;
            case FrameType.Data when call.Data is { } data:
                if ((frame.Header.Flags & FrameFlags.NoData) == 0)
                {
                    data.Writer.TryWrite(frame.Data);
                }

                if ((frame.Header.Flags & FrameFlags.RemoteClosed) != 0)
                {
                    data.Writer.TryComplete();
                }

                break;
        }
    }

    private TtrpcException Lost(Exception? cause) =>
        TtrpcException.Unavailable($"ttrpc connection to {Endpoint} lost{(cause is null ? "" : ": " + cause.Message)}", cause);

    private void ThrowIfClosed()
    {
        if (_closed is { } closed)
        {
            throw closed;
        }
    }

    /// <summary>Closes the connection; pending calls fail with <see cref="TtrpcStatusCode.Unavailable"/>.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposing.IsCancellationRequested)
        {
            return;
        }

        await _disposing.CancelAsync().ConfigureAwait(false);
        await _channel.DisposeAsync().ConfigureAwait(false);
        await _readLoop.ConfigureAwait(false);
        _disposing.Dispose();
    }
}
