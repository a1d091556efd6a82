using Isola.Cli.Commands;
using Isola.Cli.Output;
using Microsoft.Extensions.Logging;

namespace Isola.Cli.Tests;

/// <summary>The script's console logging is built on the first message that passes the filters, not before.</summary>
public sealed class DeferredLoggerProviderTests
{
    private sealed class Recorder : ILoggerProvider, ILogger
    {
        public List<string> Lines { get; } = [];

        public bool Disposed { get; private set; }

        public ILogger CreateLogger(string categoryName) => this;

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Lines.Add($"{logLevel}: {formatter(state, exception)}");

        public void Dispose() => Disposed = true;
    }

    [Fact]
    public void Filtered_messages_build_nothing_and_the_first_passing_one_builds_the_target_once()
    {
        var recorder = new Recorder();
        var builds = 0;
        var deferred = new DeferredLoggerProvider(() =>
        {
            builds++;
            var inner = new LoggerFactory();
            inner.AddProvider(recorder);
            return inner;
        });
        var factory = new LoggerFactory([], new LoggerFilterOptions { MinLevel = LogLevel.Information });
        factory.AddProvider(deferred);

        var log = factory.CreateLogger("Isola.Script");
        log.LogDebug("hidden");
        Assert.False(log.IsEnabled(LogLevel.Debug));
        Assert.Equal(0, builds);

        log.LogInformation("shown {N}", 1);
        log.LogWarning("shown {N}", 2);
        factory.CreateLogger("Other").LogError("shown {N}", 3);
        Assert.Equal(1, builds);
        Assert.Equal(["Information: shown 1", "Warning: shown 2", "Error: shown 3"], recorder.Lines);

        factory.Dispose();
        Assert.True(recorder.Disposed);
    }

    [Fact]
    public void A_factory_that_never_logged_disposes_without_building()
    {
        var builds = 0;
        var factory = new LoggerFactory([], new LoggerFilterOptions { MinLevel = LogLevel.Information });
        factory.AddProvider(new DeferredLoggerProvider(() =>
        {
            builds++;
            return new LoggerFactory();
        }));
        factory.CreateLogger("Isola.Script").LogDebug("hidden");
        factory.Dispose();
        Assert.Equal(0, builds);
    }

    [Theory]
    [InlineData(false, "Isola.Script", LogLevel.Information, true)]
    [InlineData(false, "Isola.Script", LogLevel.Debug, false)]
    [InlineData(false, "Isola.Scripting", LogLevel.Information, false)]
    [InlineData(false, "Isola.Scripting", LogLevel.Warning, true)]
    [InlineData(true, "Isola.Script", LogLevel.Debug, true)]
    [InlineData(true, "Isola.Scripting", LogLevel.Debug, true)]
    [InlineData(true, "Isola.Scripting", LogLevel.Trace, false)]
    public void Script_logging_filters_by_category_and_verbosity(bool verbose, string category, LogLevel level, bool enabled)
    {
        using var factory = RunCommand.CreateScriptLogging(verbose);
        Assert.Equal(enabled, factory.CreateLogger(category).IsEnabled(level));
    }
}
