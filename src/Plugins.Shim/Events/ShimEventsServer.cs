using Google.Protobuf.WellKnownTypes;
using Isola.TaskApi.Protos.Events;
using Isola.Ttrpc;
using Isola.Ttrpc.Server;
using Microsoft.Extensions.Logging;

namespace Isola.Plugins.Shim.Events;

/// <summary>
/// Serves containerd.services.events.ttrpc.v1.Events/Forward on an events endpoint (see <see cref="EventsEndpoint"/>).
/// The socket is renamed over the endpoint's path and left there on dispose
/// (<see cref="UnixSocketTakeover.ReplaceAndKeep"/>): the path never goes missing, since a shim that dials a missing
/// socket retries for 5 s per event, while one that dials a socket nobody serves is refused at once.
/// </summary>
internal sealed class ShimEventsServer : IAsyncDisposable
{
    public const string Service = "containerd.services.events.ttrpc.v1.Events";

    private readonly TtrpcServer _server;
    private readonly ILogger _logger;
    private long _received;

    /// <summary>Listens on <paramref name="path"/>, replacing what is there. The caller makes sure nobody else listens
    /// there (see <see cref="IsLive"/>).</summary>
    public ShimEventsServer(string path, ILogger logger)
    {
        _logger = logger;
        SocketPath = path;
        _server = new TtrpcServer(logger);
        _server.AddUnary(Service, "Forward", ForwardRequest.Parser, ForwardAsync);
        try
        {
            _server.ListenUnix(path, UnixSocketTakeover.ReplaceAndKeep);
        }
        catch (TtrpcException e)
        {
            throw IsolaException.Internal($"cannot listen for shim events on {path}: {e.Message}", e);
        }
    }

    /// <summary>The socket it listens on.</summary>
    public string SocketPath { get; }

    /// <summary>Envelopes received so far, of any topic.</summary>
    public long Received => Interlocked.Read(ref _received);

    /// <summary>True when a server accepts connections on <paramref name="path"/>; false for a missing path or a socket
    /// file nobody listens on (which refuses at once).</summary>
    public static bool IsLive(string path) => TtrpcServer.IsListening(path);

    /// <summary>Stops serving; the socket file stays, refusing connections, until the endpoint decides nobody needs it.</summary>
    public ValueTask DisposeAsync() => _server.DisposeAsync();

    // Exits are observed through Task.Wait (a shim publishes wherever the endpoint of its state root points, whoever
    // started it); events are served so shims have a live endpoint, and logged for diagnosis.
    private Task<Empty> ForwardAsync(ForwardRequest request, TtrpcCallContext context)
    {
        Interlocked.Increment(ref _received);
        var envelope = request.Envelope;
        if (envelope?.Event is { } any && envelope.Topic == "/tasks/exit" && any.TypeUrl.EndsWith("containerd.events.TaskExit", StringComparison.Ordinal))
        {
            var exit = TaskExit.Parser.ParseFrom(any.Value);
            _logger.LogDebug("task exit: {Namespace}/{Container}/{Exec} pid {Pid} status {Status}", envelope.Namespace,
                exit.ContainerId, exit.Id, exit.Pid, exit.ExitStatus);
        }

        return Task.FromResult(new Empty());
    }
}
