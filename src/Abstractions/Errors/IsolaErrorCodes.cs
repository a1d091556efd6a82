namespace Isola;

/// <summary>
/// The one mapping between gRPC status codes (what the Sandbox API, CRI and ttrpc put on the wire) and
/// <see cref="IsolaErrorCode"/>. Isola's codes share gRPC's numbers, so the protocol edges (the <c>isola serve</c>
/// server, the sandboxer client, the ttrpc plugins and isola-agent) all convert through here instead of keeping
/// switch expressions of their own that could drift apart.
/// </summary>
public static class IsolaErrorCodes
{
    /// <summary>The Isola code for a non-zero gRPC status code. The gRPC codes Isola has no name for fold into the
    /// nearest one: PERMISSION_DENIED, UNAUTHENTICATED and ABORTED into FailedPrecondition, OUT_OF_RANGE into
    /// InvalidArgument, DATA_LOSS into Internal; anything else (OK included) is Unknown.</summary>
    /// <param name="code">A gRPC status code (<c>google.rpc.Code</c>).</param>
    public static IsolaErrorCode FromGrpc(int code) => code switch
    {
        1 => IsolaErrorCode.Cancelled,
        3 or 11 => IsolaErrorCode.InvalidArgument, // INVALID_ARGUMENT, OUT_OF_RANGE
        4 => IsolaErrorCode.DeadlineExceeded,
        5 => IsolaErrorCode.NotFound,
        6 => IsolaErrorCode.AlreadyExists,
        7 or 9 or 10 or 16 => IsolaErrorCode.FailedPrecondition, // PERMISSION_DENIED, FAILED_PRECONDITION, ABORTED, UNAUTHENTICATED
        8 => IsolaErrorCode.ResourceExhausted,
        12 => IsolaErrorCode.Unimplemented,
        13 or 15 => IsolaErrorCode.Internal, // INTERNAL, DATA_LOSS
        14 => IsolaErrorCode.Unavailable,
        _ => IsolaErrorCode.Unknown,
    };

    /// <summary>The gRPC status code to send for <paramref name="code"/>: the same number, or UNKNOWN (2) for a value
    /// that is not a defined <see cref="IsolaErrorCode"/>.</summary>
    public static int ToGrpc(IsolaErrorCode code) => code switch
    {
        IsolaErrorCode.Cancelled or IsolaErrorCode.Unknown or IsolaErrorCode.InvalidArgument or IsolaErrorCode.DeadlineExceeded
            or IsolaErrorCode.NotFound or IsolaErrorCode.AlreadyExists or IsolaErrorCode.ResourceExhausted
            or IsolaErrorCode.FailedPrecondition or IsolaErrorCode.Unimplemented or IsolaErrorCode.Internal
            or IsolaErrorCode.Unavailable => (int)code,
        _ => (int)IsolaErrorCode.Unknown,
    };
}
