using Google.Protobuf.WellKnownTypes;
using Isola.Plugins.Shim.Protos.Events;
using Isola.Ttrpc.Server;
using Microsoft.Extensions.Logging;

namespace Isola.Plugins.Shim.Events;

/// <summary>A task exit a shim reported.</summary>
/// <param name="Namespace">The containerd namespace.</param>
/// <param name="ContainerId">The container (task) id.</param>
/// <param name="ExecId">The process id within it: the container id itself for its init process.</param>
/// <param name="Pid">The process id.</param>
/// <param name="ExitStatus">Its exit status.</param>
/// <param name="ExitedAt">When it exited.</param>
internal sealed record TaskExitEvent(string Namespace, string ContainerId, string ExecId, uint Pid, uint ExitStatus, DateTimeOffset ExitedAt);

/// <summary>
/// Serves containerd.services.events.ttrpc.v1.Events/Forward on the socket shims are given as TTRPC_ADDRESS, so
/// shims have somewhere to publish and this host sees task exits as they happen.
/// </summary>
internal sealed class ShimEventsServer : IAsyncDisposable
{
    public const string Service = "containerd.services.events.ttrpc.v1.Events";
    private const int Remembered = 256;

    private readonly TtrpcServer _server;
    private readonly ILogger _logger;
    private readonly Queue<TaskExitEvent> _exits = new();
    private long _received;

    public ShimEventsServer(string socketPath, ILogger logger)
    {
        _logger = logger;
        SocketPath = socketPath;
        _server = new TtrpcServer(logger);
        _server.AddUnary(Service, "Forward", ForwardRequest.Parser, ForwardAsync);
        Directory.CreateDirectory(Path.GetDirectoryName(socketPath)!, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        _server.ListenUnix(socketPath);
        // Hosts do not dispose controllers; at least the socket file goes when the process does.
        AppDomain.CurrentDomain.ProcessExit += RemoveSocketFile;
    }

    /// <summary>The socket it listens on.</summary>
    public string SocketPath { get; }

    /// <summary>Envelopes received so far, of any topic.</summary>
    public long Received => Interlocked.Read(ref _received);

    /// <summary>Raised for every /tasks/exit event.</summary>
    public event Action<TaskExitEvent>? TaskExited;

    /// <summary>The most recent exits (up to 256), oldest first.</summary>
    public IReadOnlyList<TaskExitEvent> RecentExits
    {
        get
        {
            lock (_exits)
            {
                return [.. _exits];
            }
        }
    }

    private Task<Empty> ForwardAsync(ForwardRequest request, TtrpcCallContext context)
    {
        Interlocked.Increment(ref _received);
        var envelope = request.Envelope;
        if (envelope?.Event is { } any && envelope.Topic == "/tasks/exit" && any.TypeUrl.EndsWith("containerd.events.TaskExit", StringComparison.Ordinal))
        {
            var exit = TaskExit.Parser.ParseFrom(any.Value);
            var e = new TaskExitEvent(envelope.Namespace, exit.ContainerId, exit.Id, exit.Pid, exit.ExitStatus,
                exit.ExitedAt?.ToDateTimeOffset() ?? DateTimeOffset.UtcNow);
            lock (_exits)
            {
                _exits.Enqueue(e);
                while (_exits.Count > Remembered)
                {
                    _exits.Dequeue();
                }
            }

            _logger.LogDebug("task exit: {Container}/{Exec} pid {Pid} status {Status}", e.ContainerId, e.ExecId, e.Pid, e.ExitStatus);
            TaskExited?.Invoke(e);
        }

        return Task.FromResult(new Empty());
    }

    public ValueTask DisposeAsync()
    {
        AppDomain.CurrentDomain.ProcessExit -= RemoveSocketFile;
        return _server.DisposeAsync();
    }

    private void RemoveSocketFile(object? sender, EventArgs e)
    {
        try
        {
            File.Delete(SocketPath);
        }
        catch (IOException)
        {
            // best effort at exit
        }
    }
}
