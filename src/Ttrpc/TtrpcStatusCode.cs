namespace Isola.Ttrpc;

/// <summary>
/// A ttrpc status code. ttrpc carries gRPC's <c>google.rpc.Status</c>, so these are gRPC's codes with gRPC's numbers;
/// what they mean to an application is the application's business.
/// </summary>
public enum TtrpcStatusCode
{
    /// <summary>Success; never the code of a <see cref="TtrpcException"/>.</summary>
    Ok = 0,
    /// <summary>The operation was cancelled.</summary>
    Cancelled = 1,
    /// <summary>An error that fits no other code.</summary>
    Unknown = 2,
    /// <summary>The request, an address or an argument is malformed.</summary>
    InvalidArgument = 3,
    /// <summary>No answer within the call's deadline.</summary>
    DeadlineExceeded = 4,
    /// <summary>The requested object does not exist.</summary>
    NotFound = 5,
    /// <summary>The object (or a listening socket, or a registered method) already exists.</summary>
    AlreadyExists = 6,
    /// <summary>The caller may not do this.</summary>
    PermissionDenied = 7,
    /// <summary>A size or count limit was reached, for example a message over the frame limit.</summary>
    ResourceExhausted = 8,
    /// <summary>The object is not in a state that allows the operation.</summary>
    FailedPrecondition = 9,
    /// <summary>The operation was aborted, typically by a concurrency conflict.</summary>
    Aborted = 10,
    /// <summary>An argument is outside its valid range.</summary>
    OutOfRange = 11,
    /// <summary>The server does not serve the method.</summary>
    Unimplemented = 12,
    /// <summary>An invariant broke: a protocol error, a malformed response.</summary>
    Internal = 13,
    /// <summary>The peer cannot be reached, or the connection was lost; retrying may help.</summary>
    Unavailable = 14,
    /// <summary>Unrecoverable data loss.</summary>
    DataLoss = 15,
    /// <summary>The caller is not authenticated.</summary>
    Unauthenticated = 16,
}
