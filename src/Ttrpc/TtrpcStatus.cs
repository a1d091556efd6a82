namespace Isola.Ttrpc;

/// <summary>Maps ttrpc (gRPC) status codes onto <see cref="IsolaErrorCode"/> and back.</summary>
public static class TtrpcStatus
{
    /// <summary>The error code for a non-zero status code. Isola's codes share gRPC's numbers; the few gRPC codes
    /// Isola has no name for fold into the nearest one.</summary>
    public static IsolaErrorCode ToErrorCode(int code) => code switch
    {
        1 => IsolaErrorCode.Cancelled,
        3 => IsolaErrorCode.InvalidArgument,
        4 => IsolaErrorCode.DeadlineExceeded,
        5 => IsolaErrorCode.NotFound,
        6 => IsolaErrorCode.AlreadyExists,
        7 or 16 => IsolaErrorCode.FailedPrecondition, // PERMISSION_DENIED, UNAUTHENTICATED
        8 => IsolaErrorCode.ResourceExhausted,
        9 or 10 => IsolaErrorCode.FailedPrecondition, // FAILED_PRECONDITION, ABORTED
        11 => IsolaErrorCode.InvalidArgument, // OUT_OF_RANGE
        12 => IsolaErrorCode.Unimplemented,
        13 or 15 => IsolaErrorCode.Internal, // INTERNAL, DATA_LOSS
        14 => IsolaErrorCode.Unavailable,
        _ => IsolaErrorCode.Unknown,
    };

    /// <summary>The status code to send for an error raised by a handler.</summary>
    public static int FromException(Exception exception) => exception switch
    {
        IsolaException e => (int)e.Code,
        Google.Protobuf.InvalidProtocolBufferException => (int)IsolaErrorCode.InvalidArgument,
        OperationCanceledException => (int)IsolaErrorCode.Cancelled,
        _ => (int)IsolaErrorCode.Unknown,
    };
}
