using System.Diagnostics;
using System.Net.Sockets;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Isola.Ttrpc.Client;
using Isola.Ttrpc.Framing;
using Isola.Ttrpc.Server;
using Isola.Ttrpc.Transports;
using Isola.Ttrpc.Wire;

namespace Isola.Ttrpc.Tests;

/// <summary>The project's own server with a test Echo service on a real Unix socket, for the tests that talk to it.</summary>
public abstract class EchoServerTestBase : IAsyncLifetime
{
    protected const string Svc = "isola.test.v1.Echo";
    protected TestSocket ServerSocket { get; } = new();
    private readonly TtrpcServer _server = new();
    protected List<TtrpcCallContext> Seen { get; } = [];
    private readonly TaskCompletionSource _allArrived = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes once six Gather calls are in the server at the same time.</summary>
    protected Task AllGathered => _allArrived.Task;

    /// <summary>Gather call i answers once gate i is opened.</summary>
    protected TaskCompletionSource[] Gates { get; } =
        [.. Enumerable.Range(0, 6).Select(_ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously))];
    private int _gathered;

    public Task InitializeAsync()
    {
        _server.AddUnary(Svc, "Echo", StringValue.Parser, (req, ctx) =>
        {
            lock (Seen)
            {
                Seen.Add(ctx);
            }

            return Task.FromResult(new StringValue { Value = "echo:" + req.Value });
        });
        // Sleeps for the requested time, so calls started together finish in the opposite order.
        _server.AddUnary(Svc, "Sleep", Duration.Parser, async (req, ctx) =>
        {
            await Task.Delay(req.ToTimeSpan(), ctx.CancellationToken);
            return req;
        });
        // Answers only once six calls are in flight at the same time, and each only when the test opens its gate.
        _server.AddUnary(Svc, "Gather", Int32Value.Parser, async (req, ctx) =>
        {
            if (Interlocked.Increment(ref _gathered) == 6)
            {
                _allArrived.SetResult();
            }

            await _allArrived.Task.WaitAsync(ctx.CancellationToken);
            await Gates[req.Value].Task.WaitAsync(ctx.CancellationToken);
            return req;
        });
        _server.AddUnary(Svc, "Fail", StringValue.Parser, (req, _) =>
            Task.FromException<Empty>(new TtrpcException(TtrpcStatusCode.NotFound, "no such thing: " + req.Value)));
        _server.AddUnary(Svc, "Big", Int32Value.Parser, (req, _) =>
            Task.FromResult(new BytesValue { Value = ByteString.CopyFrom(new byte[req.Value]) }));
        _server.AddStreaming(Svc, "Sum", async (stream, ctx) =>
        {
            var sum = 0;
            while (await stream.ReadAsync(ctx.CancellationToken) is { } data)
            {
                var n = Int32Value.Parser.ParseFrom(data.Span).Value;
                sum += n;
                await stream.SendAsync(new Int32Value { Value = sum }, ctx.CancellationToken);
            }

            return new Int32Value { Value = sum }.ToByteArray();
        });
        _server.ListenUnix(ServerSocket.Path);
        return Task.CompletedTask;
    }

    public virtual async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        ServerSocket.Dispose();
    }
}
