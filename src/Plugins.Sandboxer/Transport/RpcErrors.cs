using Grpc.Core;

namespace Isola.Plugins.Sandboxer.Transport;

/// <summary>Turns gRPC failures into one-line <see cref="IsolaException"/>s that name the socket and the sandbox.</summary>
internal static class RpcErrors
{
    /// <summary>Maps <paramref name="e"/>; the message reads "sandboxer /run/x.sock: Start sandbox 'id': detail".</summary>
    public static IsolaException Map(RpcException e, string socketPath, string operation, string sandboxId, TimeSpan timeout)
    {
        var code = ToIsolaCode(e.StatusCode);
        var detail = e.StatusCode switch
        {
            StatusCode.DeadlineExceeded => $"no answer within {timeout.TotalSeconds:0.###} s",
            StatusCode.Unavailable => "unreachable: " + InnermostMessage(e),
            _ => string.IsNullOrEmpty(e.Status.Detail) ? e.StatusCode.ToString() : e.Status.Detail,
        };
        return new IsolaException(code, $"sandboxer {socketPath}: {operation} sandbox '{sandboxId}': {detail}", e);
    }

    /// <summary>The Isola code for a gRPC status code; the numbering is shared, so most map one to one.</summary>
    public static IsolaErrorCode ToIsolaCode(StatusCode code) => code switch
    {
        StatusCode.Cancelled => IsolaErrorCode.Cancelled,
        StatusCode.InvalidArgument or StatusCode.OutOfRange => IsolaErrorCode.InvalidArgument,
        StatusCode.DeadlineExceeded => IsolaErrorCode.DeadlineExceeded,
        StatusCode.NotFound => IsolaErrorCode.NotFound,
        StatusCode.AlreadyExists => IsolaErrorCode.AlreadyExists,
        StatusCode.ResourceExhausted => IsolaErrorCode.ResourceExhausted,
        StatusCode.FailedPrecondition or StatusCode.Aborted or StatusCode.PermissionDenied or StatusCode.Unauthenticated
            => IsolaErrorCode.FailedPrecondition,
        StatusCode.Unimplemented => IsolaErrorCode.Unimplemented,
        StatusCode.Internal or StatusCode.DataLoss => IsolaErrorCode.Internal,
        StatusCode.Unavailable => IsolaErrorCode.Unavailable,
        _ => IsolaErrorCode.Unknown,
    };

    private static string InnermostMessage(RpcException e)
    {
        Exception? inner = e.Status.DebugException ?? e.InnerException;
        string? message = null;
        for (; inner is not null; inner = inner.InnerException)
        {
            // Our own connect error names the socket; deeper ones (SocketException) only say what went wrong.
            if (inner is HttpRequestException { Message: var m } && m.StartsWith("cannot connect to", StringComparison.Ordinal))
            {
                return m;
            }

            message = inner.Message;
        }

        return message ?? e.Status.Detail;
    }
}
