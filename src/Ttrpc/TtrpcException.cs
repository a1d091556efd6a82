namespace Isola.Ttrpc;

/// <summary>
/// The error the ttrpc client, server and transports throw: a status code and a message naming the endpoint and the
/// method involved. A non-OK response status arrives as one with the server's code; an application maps it onto its
/// own errors at its edge.
/// </summary>
public sealed class TtrpcException : Exception
{
    /// <summary>Creates an exception with a status code and a message.</summary>
    public TtrpcException(TtrpcStatusCode code, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        Code = code;
    }

    /// <summary>What kind of failure this is.</summary>
    public TtrpcStatusCode Code { get; }

    internal static TtrpcException InvalidArgument(string message) => new(TtrpcStatusCode.InvalidArgument, message);

    internal static TtrpcException AlreadyExists(string message) => new(TtrpcStatusCode.AlreadyExists, message);

    internal static TtrpcException Unavailable(string message, Exception? inner = null) => new(TtrpcStatusCode.Unavailable, message, inner);

    internal static TtrpcException DeadlineExceeded(string message, Exception? inner = null) => new(TtrpcStatusCode.DeadlineExceeded, message, inner);

    internal static TtrpcException Internal(string message, Exception? inner = null) => new(TtrpcStatusCode.Internal, message, inner);
}
