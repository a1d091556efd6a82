namespace Isola.Plugins.StratoVirt.Qmp;

/// <summary>A QMP command answered with <c>{"error":{"class":..,"desc":..}}</c>. The class maps onto an
/// <see cref="IsolaErrorCode"/> so callers can react (a missing device is NotFound, an unknown command Unimplemented).</summary>
internal sealed class QmpErrorException : IsolaException
{
    public QmpErrorException(string command, string socketPath, string errorClass, string description)
        : base(MapClass(errorClass), $"QMP '{command}' on {socketPath} failed: {errorClass}: {description}")
    {
        Command = command;
        ErrorClass = errorClass;
        Description = description;
    }

    /// <summary>The command that failed.</summary>
    public string Command { get; }

    /// <summary>The QMP error class, for example "GenericError" or "DeviceNotFound".</summary>
    public string ErrorClass { get; }

    /// <summary>The VMM's description.</summary>
    public string Description { get; }

    private static IsolaErrorCode MapClass(string errorClass) => errorClass switch
    {
        "CommandNotFound" => IsolaErrorCode.Unimplemented,
        "DeviceNotFound" => IsolaErrorCode.NotFound,
        "DeviceNotActive" => IsolaErrorCode.FailedPrecondition,
        "KVMMissingCap" => IsolaErrorCode.FailedPrecondition,
        "OperationThrottled" => IsolaErrorCode.Unavailable,
        _ => IsolaErrorCode.Internal,
    };
}
