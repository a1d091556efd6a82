namespace Isola.Ttrpc;

/// <summary>Maps ttrpc (gRPC) status codes onto <see cref="IsolaErrorCode"/> and back.</summary>
public static class TtrpcStatus
{
    /// <summary>The error code for a non-zero status code (see <see cref="IsolaErrorCodes.FromGrpc"/>).</summary>
    public static IsolaErrorCode ToErrorCode(int code) => IsolaErrorCodes.FromGrpc(code);

    /// <summary>The status code to send for an error raised by a handler.</summary>
    public static int FromException(Exception exception) => exception switch
    {
        IsolaException e => IsolaErrorCodes.ToGrpc(e.Code),
        Google.Protobuf.InvalidProtocolBufferException => (int)IsolaErrorCode.InvalidArgument,
        OperationCanceledException => (int)IsolaErrorCode.Cancelled,
        _ => (int)IsolaErrorCode.Unknown,
    };
}
