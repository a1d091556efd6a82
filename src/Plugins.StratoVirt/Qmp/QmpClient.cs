using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Isola.Plugins.StratoVirt.Qmp;

/// <summary>
/// A QMP client that works with both StratoVirt and QEMU by keeping to what the stricter peer (StratoVirt) accepts:
/// a bare <c>qmp_capabilities</c>, string ids, one command per write and one command in flight (StratoVirt parses each
/// read as a single JSON value, so pipelining breaks it). Replies are matched to commands by id, or by order when the
/// VMM omits the id (StratoVirt does for qmp_capabilities and parse errors). Events are delivered to subscribers as
/// they arrive; a caller that needs the event a command causes subscribes before sending
/// (<see cref="ExecuteAndWaitEventAsync"/>), because QEMU sends STOP/RESUME/SHUTDOWN before the reply and StratoVirt
/// after it. Hand-written: no maintained .NET QMP library exists.
/// </summary>
internal sealed partial class QmpClient : IAsyncDisposable
{
    private const int MaxLineBytes = 1 << 20;

    private readonly Socket _socket;
    private readonly string _socketPath;
    private readonly QmpClientOptions _options;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly LinkedList<Outstanding> _outstanding = new();
    private readonly List<Action<QmpEvent>> _subscribers = [];
    private readonly TaskCompletionSource<QmpGreeting> _greeting = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _readerCts = new();
    private readonly object _gate = new();
    private Task _reader = Task.CompletedTask;
    private long _nextId;
    private string? _closeReason;
    private volatile bool _abandoned;
    private int _disposed;

    private QmpClient(Socket socket, string socketPath, QmpClientOptions options, ILogger logger)
    {
        _socket = socket;
        _socketPath = socketPath;
        _options = options;
        _logger = logger;
    }

    /// <summary>The socket path, for error messages.</summary>
    public string SocketPath => _socketPath;

    /// <summary>The VMM's greeting.</summary>
    public QmpGreeting Greeting => _greeting.Task.Result;

    /// <summary>True until the socket closes or the client is disposed.</summary>
    public bool IsConnected => !_closed.Task.IsCompleted;

    /// <summary>Completes when the connection is gone (the VMM exited, closed it, or the client was disposed).</summary>
    public Task Closed => _closed.Task;

    /// <summary>True once a command was given up on (timed out or cancelled) after it went out: its late reply could
    /// be taken for the next command's, and the VMM may still be busy with it, so the connection was closed. The VM
    /// may be fine; connect again (<see cref="ConnectAgainAsync"/>).</summary>
    public bool IsAbandoned => _abandoned;

    /// <summary>Connects, reads the greeting and negotiates capabilities, all within <paramref name="cancellationToken"/>
    /// and <see cref="QmpClientOptions.CommandTimeout"/>. Throws Unavailable when nothing listens at the path.</summary>
    public static async Task<QmpClient> ConnectAsync(string socketPath, QmpClientOptions? options, ILogger? logger,
        CancellationToken cancellationToken)
    {
        options ??= new QmpClientOptions();
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), cancellationToken).ConfigureAwait(false);
        }
        catch (SocketException e)
        {
            socket.Dispose();
            throw IsolaException.Unavailable($"cannot connect to QMP socket {socketPath}: {e.Message}", e);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        var client = new QmpClient(socket, socketPath, options, logger ?? NullLogger.Instance);
        client._reader = Task.Run(client.ReadLoopAsync, CancellationToken.None);
        try
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            deadline.CancelAfter(options.CommandTimeout);
            try
            {
                await client._greeting.Task.WaitAsync(deadline.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw IsolaException.DeadlineExceeded($"no QMP greeting on {socketPath} within {options.CommandTimeout.TotalSeconds:0.#} s");
            }

            // Bare: StratoVirt's argument struct denies unknown fields, so "enable" must never be sent.
            await client.ExecuteAsync("qmp_capabilities", null, cancellationToken).ConfigureAwait(false);
            return client;
        }
        catch
        {
            await client.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>A fresh connection to the same socket with the same options (after <see cref="IsAbandoned"/>).</summary>
    public Task<QmpClient> ConnectAgainAsync(CancellationToken cancellationToken) =>
        ConnectAsync(_socketPath, _options, _logger, cancellationToken);

    /// <summary>Subscribes to every event; dispose the result to unsubscribe. Handlers run on the reader and must be quick.</summary>
    public IDisposable Subscribe(Action<QmpEvent> handler)
    {
        lock (_gate)
        {
            _subscribers.Add(handler);
        }

        return new Subscription(this, handler);
    }

    /// <summary>Runs one command under <see cref="QmpClientOptions.CommandTimeout"/> (or <paramref name="timeout"/>) and
    /// returns its "return" value. Retries while the VMM answers OperationThrottled, within the same deadline.</summary>
    public async Task<JsonNode?> ExecuteAsync(string command, JsonObject? arguments, CancellationToken cancellationToken,
        TimeSpan? timeout = null)
    {
        var limit = timeout ?? _options.CommandTimeout;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(limit);
        var backoff = _options.ThrottleBackoff;
        try
        {
            while (true)
            {
                try
                {
                    return await ExecuteOnceAsync(command, arguments, deadline.Token).ConfigureAwait(false);
                }
                catch (QmpErrorException e) when (e.ErrorClass == "OperationThrottled")
                {
                    _logger.LogDebug("QMP {Command} on {Socket} throttled; retrying in {Delay} ms", command, _socketPath, backoff.TotalMilliseconds);
                    await Task.Delay(backoff, deadline.Token).ConfigureAwait(false);
                    backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, TimeSpan.FromSeconds(1).Ticks));
                }
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw IsolaException.DeadlineExceeded($"QMP '{command}' on {_socketPath} got no reply within {limit.TotalSeconds:0.#} s");
        }
    }

    /// <summary>Runs a command and waits for the event it causes, whichever arrives first. The event waiter is
    /// registered before the command is sent, so an event that precedes the reply (QEMU) is not lost.</summary>
    public async Task<(JsonNode? Return, QmpEvent Event)> ExecuteAndWaitEventAsync(string command, JsonObject? arguments,
        Func<QmpEvent, bool> match, TimeSpan eventTimeout, CancellationToken cancellationToken)
    {
        var seen = new TaskCompletionSource<QmpEvent>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var sub = Subscribe(e =>
        {
            if (match(e))
            {
                seen.TrySetResult(e);
            }
        });
        var result = await ExecuteAsync(command, arguments, cancellationToken).ConfigureAwait(false);
        var ev = await WaitAsync(seen.Task, eventTimeout, $"the event after QMP '{command}'", cancellationToken).ConfigureAwait(false);
        return (result, ev);
    }

    /// <summary>Waits for the next event that <paramref name="match"/> accepts.</summary>
    public async Task<QmpEvent> WaitForEventAsync(Func<QmpEvent, bool> match, TimeSpan timeout, string what, CancellationToken cancellationToken)
    {
        var seen = new TaskCompletionSource<QmpEvent>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var sub = Subscribe(e =>
        {
            if (match(e))
            {
                seen.TrySetResult(e);
            }
        });
        return await WaitAsync(seen.Task, timeout, what, cancellationToken).ConfigureAwait(false);
    }

    private async Task<QmpEvent> WaitAsync(Task<QmpEvent> seen, TimeSpan timeout, string what, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        var done = await Task.WhenAny(seen, _closed.Task.WaitAsync(deadline.Token)).ConfigureAwait(false);
        if (seen.IsCompleted)
        {
            return await seen.ConfigureAwait(false);
        }

        if (done.IsCanceled || deadline.IsCancellationRequested)
        {
            cancellationToken.ThrowIfCancellationRequested();
            throw IsolaException.DeadlineExceeded($"QMP socket {_socketPath}: {what} did not arrive within {timeout.TotalSeconds:0.#} s");
        }

        throw IsolaException.Unavailable($"QMP socket {_socketPath} closed ({_closeReason}) while waiting for {what}");
    }

    /// <summary>Closes the connection; pending commands fail with Unavailable. Safe to call more than once (a VM handle
    /// disposes an abandoned connection when it reconnects, and again if that reconnect failed).</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _readerCts.CancelAsync().ConfigureAwait(false);
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
        }

        await _reader.ConfigureAwait(false);
        Fail("the client was disposed");
        _socket.Dispose();
        _readerCts.Dispose();
    }

    private sealed class Outstanding(string id, string command)
    {
        public string Id { get; } = id;

        public string Command { get; } = command;

        public TaskCompletionSource<JsonNode?> Reply { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private sealed class Subscription(QmpClient owner, Action<QmpEvent> handler) : IDisposable
    {
        public void Dispose()
        {
            lock (owner._gate)
            {
                owner._subscribers.Remove(handler);
            }
        }
    }
}
