using System.CommandLine;
using Isola.Cli.Commands;
using Isola.Cli.Output;
using Isola.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;

namespace Isola.Cli;

/// <summary>
/// What every command shares: the global options, the output streams, and how to start the host. A command's
/// action goes through <see cref="SetHostAction"/> or <see cref="SetAction"/>, which turn any failure into one
/// line on stderr and a non-zero exit code.
/// </summary>
public sealed class CliContext
{
    private readonly Action<IsolaHostBuilder>? _configureHost;

    internal CliContext(TextWriter stdout, TextWriter stderr, Action<IsolaHostBuilder>? configureHost)
    {
        Stdout = stdout;
        Stderr = stderr;
        _configureHost = configureHost;
        Output = new OutputWriter(this);
    }

    /// <summary>Where results go.</summary>
    public TextWriter Stdout { get; }

    /// <summary>Where errors go.</summary>
    public TextWriter Stderr { get; }

    /// <summary>Table or JSON output of results.</summary>
    public OutputWriter Output { get; }

    /// <summary><c>--config FILE</c>: the JSON configuration file.</summary>
    public Option<string?> ConfigOption { get; } = new Option<string?>("--config")
    {
        Description = "JSON configuration file (default: $ISOLA_CONFIG, else /etc/isola/isola.json)",
        Recursive = true,
    }.Checked(v => OptionChecks.NotEmpty(v, "--config"));

    /// <summary><c>--root DIR</c>: the state root, overriding Isola:Root.</summary>
    public Option<string?> RootOption { get; } = new Option<string?>("--root")
    {
        Description = "State directory (overrides Isola:Root; default /var/lib/isola)",
        Recursive = true,
    }.Checked(v => OptionChecks.NotEmpty(v, "--root"));

    /// <summary><c>-o table|json</c>.</summary>
    public Option<string> OutputOption { get; } = CreateOutputOption();

    /// <summary><c>-v</c>: debug logs and full error chains on stderr.</summary>
    public Option<bool> VerboseOption { get; } = new("--verbose", "-v")
    {
        Description = "Log to stderr and print the full error chain",
        Recursive = true,
    };

    /// <summary>Starts a host from the global options and the standard configuration sources.</summary>
    /// <param name="parse">The parsed command line.</param>
    /// <param name="recovery">How much the host reconciles at start: a command that runs for a moment asks the
    /// controllers only about the sandboxes it touches (<see cref="RecoveryMode.OnDemand"/>); a server takes them all
    /// over (<see cref="RecoveryMode.Full"/>).</param>
    /// <param name="cancellationToken">Cancels the start.</param>
    public Task<IsolaHost> StartHostAsync(ParseResult parse, RecoveryMode recovery, CancellationToken cancellationToken) =>
        CreateHostBuilder(parse, recovery).StartAsync(cancellationToken);

    /// <summary>The builder <see cref="StartHostAsync"/> starts: the standard configuration sources and the global
    /// options, for a command that reads the configuration itself before starting the host.</summary>
    public IsolaHostBuilder CreateHostBuilder(ParseResult parse, RecoveryMode recovery)
    {
        var config = parse.GetValue(ConfigOption);
        var builder = IsolaHost.CreateBuilder(config is null ? [] : ["--config", config]);
        if (parse.GetValue(RootOption) is { } root)
        {
            builder.Configuration.AddInMemoryCollection([new KeyValuePair<string, string?>("Isola:Root", Path.GetFullPath(root))]);
        }

        if (parse.GetValue(VerboseOption))
        {
            LogToConsole(builder.Logging);
        }

        // Last, so a configuration file that asks for Full does not make every short command reconcile every sandbox.
        builder.Configuration.AddInMemoryCollection([new KeyValuePair<string, string?>("Isola:Recovery", recovery.ToString())]);
        _configureHost?.Invoke(builder);
        return builder;
    }

    /// <summary>Sets an action that needs a running host; the host is disposed afterwards. The host recovers
    /// <see cref="RecoveryMode.OnDemand"/> unless the command serves for long (<paramref name="recovery"/>).</summary>
    public void SetHostAction(Command command, Func<ParseResult, IsolaHost, CancellationToken, Task<int>> action,
        RecoveryMode recovery = RecoveryMode.OnDemand) =>
        SetAction(command, async (parse, ct) =>
        {
            await using var host = await StartHostAsync(parse, recovery, ct).ConfigureAwait(false);
            return await action(parse, host, ct).ConfigureAwait(false);
        });

    /// <summary>Sets an action; any exception becomes one line on stderr and exit code 1 (2 for a usage error, 130 when
    /// cancelled).</summary>
    public void SetAction(Command command, Func<ParseResult, CancellationToken, Task<int>> action) =>
        command.SetAction(async (parse, ct) =>
        {
            try
            {
                return await action(parse, ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                await Stderr.WriteLineAsync("isola: cancelled").ConfigureAwait(false);
                return IsolaCli.Interrupted;
            }
            catch (Exception e)
            {
                await ReportAsync(parse, e).ConfigureAwait(false);
                return IsolaCli.ExitCodeOf(e);
            }
        });

    /// <summary>Prints <paramref name="error"/> as one line; with -v, the whole chain follows.</summary>
    internal async Task ReportAsync(ParseResult parse, Exception error)
    {
        var line = error is IsolaException ? error.Message : $"{error.GetType().Name}: {error.Message}";
        await Stderr.WriteLineAsync($"isola: {OneLine(line)}").ConfigureAwait(false);
        if (parse.GetValue(VerboseOption))
        {
            await Stderr.WriteLineAsync(error.ToString()).ConfigureAwait(false);
        }
    }

    /// <summary>-v: debug logs on stderr. A method of its own, so that commands without -v do not load the console
    /// logger's assembly.</summary>
    private static void LogToConsole(ILoggingBuilder logging)
    {
        logging.SetMinimumLevel(LogLevel.Debug);
        logging.AddSimpleConsole(o => o.SingleLine = true);
        logging.Services.Configure<ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
    }

    /// <summary>A command line that is wrong in itself: reported as one line like any other error, with the usage
    /// exit code (2) instead of 1.</summary>
    public static IsolaException Usage(string message) => new CliUsageException(message);

    private static string OneLine(string text) => text.ReplaceLineEndings(" ").Trim();

    private static Option<string> CreateOutputOption()
    {
        var option = new Option<string>("--output", "-o")
        {
            Description = "Output format",
            Recursive = true,
            DefaultValueFactory = _ => "table",
        };
        option.AcceptOnlyFromAmong("table", "json");
        return option;
    }
}
