using Isola.Ttrpc.Server;

namespace Isola.Agent.Streaming;

/// <summary>
/// One named stdio stream (a `streaming_id`): the host's open stream for it, if any, and the relay that owns it once a
/// process has it as stdin, stdout or stderr. Either side may come first: the host opens its streams before it calls
/// Create or Exec, and a host that restarts opens them again later. A newer host's stream replaces an older one.
/// </summary>
internal sealed class StreamSlot(string id)
{
    private readonly object _gate = new();
    private Attachment? _current;
    private TaskCompletionSource<Attachment> _arrived = NewArrival();
    private bool _closed;

    public string Id => id;

    /// <summary>Set once a process's stdio claimed the slot.</summary>
    public bool Claimed { get; set; }

    /// <summary>Called once the slot closes, so its owner forgets it.</summary>
    public Action? Released { get; set; }

    /// <summary>Called whenever a host attaches, so a relay holding output can send it.</summary>
    public Action? Attached { get; set; }

    public bool IsClosed
    {
        get
        {
            lock (_gate)
            {
                return _closed;
            }
        }
    }

    public Attachment? Current
    {
        get
        {
            lock (_gate)
            {
                return _current;
            }
        }
    }

    /// <summary>Takes the host's stream; completes when the slot is done with it (the stream then ends with OK).</summary>
    public Task AttachAsync(TtrpcServerStream stream, CancellationToken connectionClosing)
    {
        var attachment = new Attachment(stream, connectionClosing);
        lock (_gate)
        {
            if (_closed)
            {
                return Task.CompletedTask;
            }

            _current?.End();
            _current = attachment;
            if (!_arrived.TrySetResult(attachment))
            {
                _arrived = NewArrival();
                _arrived.TrySetResult(attachment);
            }
        }

        connectionClosing.Register(() => Detach(attachment));
        Attached?.Invoke();
        return attachment.Done;
    }

    /// <summary>The attached stream, or the next one to attach; cancelled when the slot closes.</summary>
    public Task<Attachment> NextAsync()
    {
        lock (_gate)
        {
            return _current is { } current ? Task.FromResult(current) : _arrived.Task;
        }
    }

    /// <summary>Lets go of <paramref name="attachment"/> (its connection closed, or a send failed).</summary>
    public void Detach(Attachment attachment)
    {
        lock (_gate)
        {
            if (ReferenceEquals(_current, attachment))
            {
                _current = null;
                if (_arrived.Task.IsCompleted)
                {
                    _arrived = NewArrival();
                }
            }
        }

        attachment.End();
    }

    /// <summary>The process is gone: ends the attached stream and stops waiting for one.</summary>
    public void Close()
    {
        Attachment? current;
        lock (_gate)
        {
            _closed = true;
            current = _current;
            _current = null;
            _arrived.TrySetCanceled();
        }

        current?.End();
        Attached?.Invoke();
        Released?.Invoke();
    }

    private static TaskCompletionSource<Attachment> NewArrival() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}

/// <summary>A host's open stream on a slot.</summary>
internal sealed class Attachment(TtrpcServerStream stream, CancellationToken connectionClosing)
{
    private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public TtrpcServerStream Stream => stream;

    /// <summary>Cancelled when the host's connection closes (as opposed to the host closing its side of the stream).</summary>
    public CancellationToken ConnectionClosing => connectionClosing;

    public Task Done => _done.Task;

    public void End() => _done.TrySetResult();
}
