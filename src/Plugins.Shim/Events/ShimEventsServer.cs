using Google.Protobuf.WellKnownTypes;
using Isola.Plugins.Shim.Protos.Events;
using Isola.Ttrpc.Server;
using Microsoft.Extensions.Logging;

namespace Isola.Plugins.Shim.Events;

/// <summary>
/// Serves containerd.services.events.ttrpc.v1.Events/Forward on the socket shims are given as TTRPC_ADDRESS, so
/// shims have somewhere to publish. Each host process has its own socket (see ShimControllerFactory.SettingsFor).
/// </summary>
internal sealed class ShimEventsServer : IAsyncDisposable
{
    public const string Service = "containerd.services.events.ttrpc.v1.Events";

    private readonly TtrpcServer _server;
    private readonly ILogger _logger;
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

    // Exits are observed through Task.Wait (a shim keeps publishing to the address it was started with, which may be
    // another, long gone, process's); events are served so shims have a live endpoint, and logged for diagnosis.
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
