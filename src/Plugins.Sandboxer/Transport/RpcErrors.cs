using Grpc.Core;

namespace Isola.Plugins.Sandboxer.Transport;

/// <summary>Turns gRPC failures into one-line <see cref="IsolaException"/>s that name the socket and the sandbox.</summary>
internal static class RpcErrors
{
    /// <summary>Maps <paramref name="e"/>; the message reads "sandboxer /run/x.sock: Start sandbox 'id': detail".</summary>
    public static IsolaException Map(RpcException e, string socketPath, string operation, string sandboxId, TimeSpan timeout)
    {
        var code = IsTransportFailure(e) ? IsolaErrorCode.Unavailable : IsolaErrorCodes.FromGrpc((int)e.StatusCode);
        var detail = e.StatusCode switch
        {
            _ when code == IsolaErrorCode.Unavailable => "unreachable: " + InnermostMessage(e),
            StatusCode.DeadlineExceeded => $"no answer within {timeout.TotalSeconds:0.###} s",
            _ => string.IsNullOrEmpty(e.Status.Detail) ? e.StatusCode.ToString() : e.Status.Detail,
        };
        return new IsolaException(code, $"sandboxer {socketPath}: {operation} sandbox '{sandboxId}': {detail}", e);
    }

    /// <summary>
    /// True when the call died in the transport (the server went away mid-call, the connection was reset) rather than
    /// with a status the server sent. Grpc.Net.Client reports a reset stream as Internal or Unknown; for the host that
    /// is the same as Unavailable: retry, and mark the sandbox Pending meanwhile.
    /// </summary>
    private static bool IsTransportFailure(RpcException e)
    {
        // The controller turns caller cancellations into OperationCanceledException first; a Cancelled that
        // reaches here came from a server shutting down under the call.
        if (e.StatusCode is StatusCode.Cancelled or StatusCode.Unavailable)
        {
            return true;
        }

        if (e.StatusCode is not (StatusCode.Internal or StatusCode.Unknown))
        {
            return false;
        }

        for (Exception? inner = e.Status.DebugException; inner is not null; inner = inner.InnerException)
        {
            if (inner is IOException or HttpRequestException or System.Net.Sockets.SocketException)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// True when <paramref name="e"/> (an RpcException, or an error wrapping one) failed because no connection to the
    /// sandboxer could be established: the request never left this process. SocketsHttpHandler sends a request only on
    /// an established connection, and re-sends one on a new connection only when the server said it did not process
    /// it (GOAWAY, REFUSED_STREAM); so a failed connect at the end of the chain means the server never saw the call.
    /// A deadline, a cancellation or a reset after connecting all leave the outcome unknown and answer false.
    /// </summary>
    public static bool NeverConnected(Exception e)
    {
        for (Exception? outer = e; outer is not null; outer = outer.InnerException)
        {
            if (outer is not RpcException rpc)
            {
                continue;
            }

            if (rpc.StatusCode is not (StatusCode.Unavailable or StatusCode.Internal or StatusCode.Unknown))
            {
                return false;
            }

            for (Exception? inner = rpc.Status.DebugException ?? rpc.InnerException; inner is not null; inner = inner.InnerException)
            {
                if (inner is SandboxerConnectException)
                {
                    return true;
                }
            }

            return false;
        }

        return false;
    }

    private static string InnermostMessage(RpcException e)
    {
        string? ours = null;
        string? deepest = null;
        for (Exception? inner = e.Status.DebugException ?? e.InnerException; inner is not null; inner = inner.InnerException)
        {
            // SocketsHttpHandler re-wraps our connect error adding "(localhost:80)"; the deepest copy is ours.
            if (inner is HttpRequestException { Message: var m } && m.StartsWith("cannot connect to", StringComparison.Ordinal))
            {
                ours = m;
            }

            deepest = inner.Message;
        }

        return ours ?? deepest ?? e.Status.Detail;
    }
}
