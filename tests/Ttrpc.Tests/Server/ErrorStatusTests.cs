using Google.Protobuf.WellKnownTypes;
using Isola.Ttrpc.Client;
using Isola.Ttrpc.Server;

namespace Isola.Ttrpc.Tests.Server;

/// <summary>How a handler's exception becomes the response status: the library knows only its own error type, and an
/// application plugs in the mapping of its own (isola-agent maps IsolaException this way).</summary>
public sealed class ErrorStatusTests : IDisposable
{
    private readonly TestSocket _socket = new();

    public void Dispose() => _socket.Dispose();

    private sealed class AppException(int code, string message) : Exception(message)
    {
        public int AppCode { get; } = code;
    }

    [Fact]
    public async Task The_mapper_answers_for_application_errors_and_the_built_in_rules_for_the_rest()
    {
        await using var server = new TtrpcServer
        {
            ErrorStatus = e => e is AppException app ? (TtrpcStatusCode)app.AppCode : null,
        };
        server.AddUnary("t.S", "App", StringValue.Parser, (req, _) =>
            Task.FromException<Empty>(new AppException(int.Parse(req.Value, System.Globalization.CultureInfo.InvariantCulture), "app says no")));
        server.AddUnary("t.S", "Plain", Empty.Parser, (_, _) => Task.FromException<Empty>(new InvalidOperationException("plain")));
        // A TtrpcException keeps its own code, whatever the mapper would say.
        server.AddUnary("t.S", "Own", Empty.Parser, (_, _) => Task.FromException<Empty>(new TtrpcException(TtrpcStatusCode.Aborted, "own")));
        server.ListenUnix(_socket.Path);
        await using var client = await TtrpcClient.ConnectAsync(_socket.Path);

        var notFound = await Assert.ThrowsAsync<TtrpcException>(() => client.CallAsync("t.S", "App", new StringValue { Value = "5" }, Empty.Parser));
        var denied = await Assert.ThrowsAsync<TtrpcException>(() => client.CallAsync("t.S", "App", new StringValue { Value = "7" }, Empty.Parser));
        var plain = await Assert.ThrowsAsync<TtrpcException>(() => client.CallAsync("t.S", "Plain", new Empty(), Empty.Parser));
        var own = await Assert.ThrowsAsync<TtrpcException>(() => client.CallAsync("t.S", "Own", new Empty(), Empty.Parser));

        Assert.Equal(TtrpcStatusCode.NotFound, notFound.Code);
        Assert.Contains("app says no", notFound.Message);
        // The client reports the code as sent: folding PERMISSION_DENIED into something else is the application's call.
        Assert.Equal(TtrpcStatusCode.PermissionDenied, denied.Code);
        Assert.Equal((TtrpcStatusCode.Unknown, true), (plain.Code, plain.Message.EndsWith(": plain", StringComparison.Ordinal)));
        Assert.Equal(TtrpcStatusCode.Aborted, own.Code);
    }
}
