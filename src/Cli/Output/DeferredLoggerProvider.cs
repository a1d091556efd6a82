using Microsoft.Extensions.Logging;

namespace Isola.Cli.Output;

/// <summary>
/// A logger provider that builds the logger factory it forwards to on the first message that reaches it. Why: the
/// console logger (a service provider, options, the formatter and its writer thread) costs ~15 ms to set up, a large
/// share of a cached <c>isola run</c>, and a quiet script never logs. Filter in the factory this provider is added to:
/// every message that gets here is written.
/// </summary>
internal sealed class DeferredLoggerProvider(Func<ILoggerFactory> create) : ILoggerProvider
{
    private readonly Lazy<ILoggerFactory> _target = new(create, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Whether a message has made it build the real factory (for tests).</summary>
    internal bool IsCreated => _target.IsValueCreated;

    public ILogger CreateLogger(string categoryName) => new DeferredLogger(_target, categoryName);

    /// <summary>Disposes the real factory, if built: that flushes what the console logger still queues.</summary>
    public void Dispose()
    {
        if (_target.IsValueCreated)
        {
            _target.Value.Dispose();
        }
    }

    private sealed class DeferredLogger(Lazy<ILoggerFactory> target, string category) : ILogger
    {
        private ILogger? _inner;

        private ILogger Inner => _inner ??= target.Value.CreateLogger(category);

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => Inner.BeginScope(state);

        // The factory this provider belongs to has applied the level filters already.
        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Inner.Log(logLevel, eventId, state, exception, formatter);
    }
}
