using Microsoft.Extensions.Logging;

namespace Isola.Agent;

/// <summary>One line per entry on standard error: in the guest that is the VM console the host captures. No logging
/// framework: it would cost start-up time and binary size in a PID 1.</summary>
internal sealed class StderrLogger : ILogger
{
    private readonly LogLevel _minimum;
    private readonly object _gate = new();

    public StderrLogger(LogLevel minimum)
    {
        _minimum = minimum;
    }

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= _minimum && logLevel != LogLevel.None;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (!IsEnabled(logLevel))
        {
            return;
        }

        var line = $"isola-agent {DateTime.UtcNow:HH:mm:ss.fff} {Level(logLevel)} {formatter(state, exception)}";
        if (exception is not null)
        {
            line += $": {exception.GetType().Name}: {exception.Message}";
        }

        lock (_gate)
        {
            Console.Error.WriteLine(line);
        }
    }

    private static string Level(LogLevel level) => level switch
    {
        LogLevel.Trace => "trace",
        LogLevel.Debug => "debug",
        LogLevel.Information => "info",
        LogLevel.Warning => "warn",
        LogLevel.Error => "error",
        _ => "crit",
    };
}
