using System.CommandLine;
using Isola.Cli.Commands;
using Isola.Hosting;

namespace Isola.Cli;

/// <summary>The <c>isola</c> command: parses arguments, runs one command, prints one-line errors.</summary>
public static class IsolaCli
{
    /// <summary>Exit code of a command that ran and failed: the request was well-formed but the host, its configuration,
    /// the state or a runtime refused or failed it (not found, name in use, unknown runtime, unreachable controller).</summary>
    public const int Failure = 1;

    /// <summary>Exit code of a command line that is wrong in itself: unknown command or option, missing argument, or a
    /// malformed value (an id, --dns, --user, --timeout, ...). Found before a host starts, so nothing was touched.</summary>
    public const int UsageError = 2;

    /// <summary>Exit code of a command stopped by Ctrl+C or SIGTERM (128 + SIGINT, as shells report it).</summary>
    public const int Interrupted = 130;

    /// <summary>The exit code of a command that ended with <paramref name="error"/>.</summary>
    internal static int ExitCodeOf(Exception error) => error is Commands.CliUsageException ? UsageError : Failure;

    /// <summary>Runs the command line <paramref name="args"/>, writing results to <paramref name="stdout"/> and errors
    /// to <paramref name="stderr"/>. <paramref name="configureHost"/> lets tests and embedders add in-process plugins
    /// or configuration before the host starts.</summary>
    public static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr,
        Action<IsolaHostBuilder>? configureHost = null, CancellationToken cancellationToken = default)
    {
        var context = new CliContext(stdout, stderr, configureHost);
        var root = BuildRootCommand(context);
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            // One line, not System.CommandLine's help dump: scripts read stderr.
            var messages = string.Join("; ", parse.Errors.Select(e => e.Message.ReplaceLineEndings(" ").TrimEnd('.')).Distinct());
            await stderr.WriteLineAsync($"isola: {messages} (see 'isola --help')").ConfigureAwait(false);
            return UsageError;
        }

        var invocation = new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false };
        try
        {
            return await parse.InvokeAsync(invocation, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            await context.ReportAsync(parse, e).ConfigureAwait(false);
            return ExitCodeOf(e);
        }
    }

    /// <summary>The command tree: the global options plus every group of <see cref="CommandCatalog"/>.</summary>
    internal static RootCommand BuildRootCommand(CliContext context)
    {
        var root = new RootCommand("isola: run sandboxes (pods) and their containers through pluggable controllers");
        root.Options.Add(context.ConfigOption);
        root.Options.Add(context.RootOption);
        root.Options.Add(context.OutputOption);
        root.Options.Add(context.VerboseOption);
        foreach (var create in CommandCatalog.All)
        {
            root.Subcommands.Add(create(context));
        }

        return root;
    }
}
