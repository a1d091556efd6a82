namespace Isola;

/// <summary>
/// The one exception type that crosses the Isola API. Its message names the sandbox or container id and the
/// endpoint (socket path, binary, QMP socket) involved, so that a single line tells an operator what failed.
/// </summary>
public class IsolaException : Exception
{
    /// <summary>Creates an exception with a code and a message.</summary>
    public IsolaException(IsolaErrorCode code, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        Code = code;
    }

    /// <summary>What kind of failure this is.</summary>
    public IsolaErrorCode Code { get; }

    /// <summary>Shorthand for a <see cref="IsolaErrorCode.NotFound"/> error.</summary>
    public static IsolaException NotFound(string message) => new(IsolaErrorCode.NotFound, message);

    /// <summary>Shorthand for a <see cref="IsolaErrorCode.InvalidArgument"/> error.</summary>
    public static IsolaException InvalidArgument(string message) => new(IsolaErrorCode.InvalidArgument, message);

    /// <summary>Shorthand for a <see cref="IsolaErrorCode.AlreadyExists"/> error.</summary>
    public static IsolaException AlreadyExists(string message) => new(IsolaErrorCode.AlreadyExists, message);

    /// <summary>Shorthand for a <see cref="IsolaErrorCode.FailedPrecondition"/> error.</summary>
    public static IsolaException FailedPrecondition(string message) => new(IsolaErrorCode.FailedPrecondition, message);

    /// <summary>Shorthand for a <see cref="IsolaErrorCode.Unavailable"/> error.</summary>
    public static IsolaException Unavailable(string message, Exception? inner = null) =>
        new(IsolaErrorCode.Unavailable, message, inner);

    /// <summary>Shorthand for a <see cref="IsolaErrorCode.DeadlineExceeded"/> error.</summary>
    public static IsolaException DeadlineExceeded(string message, Exception? inner = null) =>
        new(IsolaErrorCode.DeadlineExceeded, message, inner);

    /// <summary>Shorthand for a <see cref="IsolaErrorCode.Internal"/> error.</summary>
    public static IsolaException Internal(string message, Exception? inner = null) =>
        new(IsolaErrorCode.Internal, message, inner);

    /// <summary>True when the error says the object is gone; Stop and Remove treat that as done.</summary>
    public static bool IsNotFound(Exception e) => e is IsolaException { Code: IsolaErrorCode.NotFound };
}
