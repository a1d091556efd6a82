using System.CommandLine;

namespace Isola.Cli.Commands;

/// <summary><c>isola runtimes ls</c>.</summary>
internal static class RuntimeCommands
{
    public static Command Create(CliContext context)
    {
        var list = new Command("ls", "List configured runtime handlers");
        context.SetHostAction(list, async (parse, host, ct) =>
        {
            if (context.Output.IsJson(parse))
            {
                await context.Output.JsonAsync(host.Runtimes).ConfigureAwait(false);
                return 0;
            }

            await context.Output.TableAsync(["NAME", "CONTROLLER", "DEFAULT", "OPTIONS"],
                host.Runtimes.Select(r => (IReadOnlyList<string>)[r.Name, r.Controller, r.IsDefault ? "*" : "",
                    r.Details.Count == 0 ? "-" : string.Join(",", r.Details.Select(d => $"{d.Key}={d.Value}"))])).ConfigureAwait(false);
            return 0;
        });
        return new Command("runtimes", "Inspect runtime handlers") { list };
    }
}
