namespace Isola;

/// <summary>
/// The kind of an <see cref="IsolaException"/>. The values mirror the gRPC status codes that the
/// Sandbox API and ttrpc use, so protocol errors map onto them in both directions without loss.
/// </summary>
public enum IsolaErrorCode
{
    /// <summary>An error that fits no other code.</summary>
    Unknown = 2,
    /// <summary>The caller cancelled the operation.</summary>
    Cancelled = 1,
    /// <summary>An id, path, option or argument is malformed.</summary>
    InvalidArgument = 3,
    /// <summary>The operation did not finish within its deadline.</summary>
    DeadlineExceeded = 4,
    /// <summary>The sandbox, container, plugin or runtime does not exist.</summary>
    NotFound = 5,
    /// <summary>An object with that id or name already exists.</summary>
    AlreadyExists = 6,
    /// <summary>A size or count limit was reached (for example an oversized ttrpc message).</summary>
    ResourceExhausted = 8,
    /// <summary>The object is not in a state that allows the operation.</summary>
    FailedPrecondition = 9,
    /// <summary>The peer does not implement the operation.</summary>
    Unimplemented = 12,
    /// <summary>An invariant broke inside Isola or a peer.</summary>
    Internal = 13,
    /// <summary>The peer (socket, process, VMM) cannot be reached right now; retrying may help.</summary>
    Unavailable = 14,
}
