using System.CommandLine;
using System.Runtime.InteropServices;
using Isola.Cli.Output;
using Isola.Hosting;
using Isola.Scripting;
using Microsoft.Extensions.Logging;

namespace Isola.Cli.Commands;

/// <summary>
/// <c>isola run SCRIPT.csx [-- ARGS...]</c>: runs a workflow script on a host started from the usual configuration.
/// The script's int result is the exit code; compile errors print as <c>file:line:col: error CSxxxx: message</c>, an
/// uncaught exception as <c>file:line: error Type: message</c> (exit 1); Ctrl+C or SIGTERM trips the script's
/// <c>Ct</c> (exit 130 once it has stopped and its scoped sandboxes are torn down).
/// </summary>
internal static class RunCommand
{
    public static Command Create(CliContext context)
    {
        // The tokens are taken as they are (CustomParser): otherwise System.CommandLine builds its table of converters
        // for every type, at every run, only to hand back the same strings.
        var script = new Argument<string>("script") { Description = "The workflow script (.csx)", CustomParser = r => r.Tokens[0].Value };
        var scriptArgs = new Argument<string[]>("args")
        {
            Description = "Arguments for the script (its Args), after --",
            Arity = ArgumentArity.ZeroOrMore,
            CustomParser = r => [.. r.Tokens.Select(t => t.Value)],
        };
        var command = new Command("run", "Run a C# workflow script (.csx) against the host's API") { script, scriptArgs };
        context.SetAction(command, async (parse, ct) =>
        {
            // The host's start (plugins, runtimes, recovery) and the script's cache lookup need nothing from each other
            // but the configuration: the host starts on the thread pool while this thread reads and verifies the
            // cached script.
            var builder = context.CreateHostBuilder(parse, RecoveryMode.OnDemand);
            var options = IsolaScripting.BindOptions(builder.Configuration);
            var hostStart = Task.Run(() => builder.StartAsync(ct), ct);
            try
            {
                var verbose = parse.GetValue(context.VerboseOption);
                using var loggerFactory = CreateScriptLogging(verbose);
                var runner = IsolaScripting.CreateRunner(AsIsola(hostStart), options, loggerFactory);
                // The script owns SIGINT and SIGTERM while it runs: the first one trips Ct and the run tears its scoped
                // sandboxes down before exiting 130; a second one takes the default action (the process dies at once).
                using var cancel = CancellationTokenSource.CreateLinkedTokenSource(ct);
                using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Cancel);
                using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Cancel);
                ScriptRunResult result;
                try
                {
                    result = await runner.RunAsync(parse.GetValue(script)!, parse.GetValue(scriptArgs) ?? [], cancel.Token).ConfigureAwait(false);
                }
                catch when (!hostStart.IsCompletedSuccessfully)
                {
                    // A host that cannot start is reported first, as by every other command (a bad configuration
                    // outranks, say, a missing script).
                    await hostStart.ConfigureAwait(false);
                    throw;
                }

                await ReportAsync(context.Stderr, result, verbose).ConfigureAwait(false);
                return result.ExitCode;

                void Cancel(PosixSignalContext signal)
                {
                    signal.Cancel = !cancel.IsCancellationRequested;
                    cancel.Cancel();
                }
            }
            finally
            {
                await DisposeAsync(hostStart).ConfigureAwait(false);
            }
        });
        return command;
    }

    private static async Task<IIsola> AsIsola(Task<IsolaHost> hostStart) => await hostStart.ConfigureAwait(false);

    /// <summary>Disposes the host once its start has finished; a start that failed has been reported already.</summary>
    private static async Task DisposeAsync(Task<IsolaHost> hostStart)
    {
        IsolaHost host;
        try
        {
            host = await hostStart.ConfigureAwait(false);
        }
        catch
        {
            return;
        }

        await host.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>Prints the diagnostics and how the run ended; a clean success prints nothing (and, on that path of
    /// every run, does not enter the async method).</summary>
    private static Task ReportAsync(TextWriter stderr, ScriptRunResult result, bool verbose) =>
        result.Diagnostics.Count == 0 && result.Outcome == ScriptOutcome.Succeeded ? Task.CompletedTask : PrintReportAsync(stderr, result, verbose);

    private static async Task PrintReportAsync(TextWriter stderr, ScriptRunResult result, bool verbose)
    {
        foreach (var diagnostic in result.Diagnostics.Where(d => result.Outcome != ScriptOutcome.Failed || d.Severity != "error"))
        {
            await stderr.WriteLineAsync(diagnostic.ToString()).ConfigureAwait(false);
        }

        switch (result.Outcome)
        {
            case ScriptOutcome.Failed:
                var at = result.Diagnostics.LastOrDefault(d => d.IsError);
                await stderr.WriteLineAsync(at is null ? $"isola: {result.Error}" : $"{at.File}:{at.Line}: error {result.Error}").ConfigureAwait(false);
                if (verbose && result.ErrorDetail is not null)
                {
                    await stderr.WriteLineAsync(result.ErrorDetail).ConfigureAwait(false);
                }

                break;
            case ScriptOutcome.Cancelled:
                await stderr.WriteLineAsync("isola: cancelled").ConfigureAwait(false);
                break;
        }
    }

    /// <summary>The script's <c>Log</c> always reaches stderr (Information and up); the runner's own cache and compile
    /// messages show with -v. The filters live in this factory; the console logger behind them is built on the first
    /// message that passes them (<see cref="DeferredLoggerProvider"/>).</summary>
    internal static ILoggerFactory CreateScriptLogging(bool verbose)
    {
        var filters = new LoggerFilterOptions { MinLevel = verbose ? LogLevel.Debug : LogLevel.Information };
        filters.Rules.Add(new LoggerFilterRule(null, "Isola.Scripting", verbose ? LogLevel.Debug : LogLevel.Warning, null));
        var factory = new LoggerFactory([], filters);
        factory.AddProvider(new DeferredLoggerProvider(() => LoggerFactory.Create(logging =>
        {
            logging.SetMinimumLevel(LogLevel.Trace);
            logging.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
            logging.AddSimpleConsole(o => o.SingleLine = true);
        })));
        return factory;
    }
}
