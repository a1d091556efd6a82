using System.CommandLine;

namespace Isola.Cli.Commands;

/// <summary><c>isola plugins ls</c>.</summary>
internal static class PluginCommands
{
    public static Command Create(CliContext context)
    {
        var list = new Command("ls", "List loaded plugins and what they registered");
        context.SetHostAction(list, async (parse, host, ct) =>
        {
            if (context.Output.IsJson(parse))
            {
                await context.Output.JsonAsync(host.Plugins).ConfigureAwait(false);
                return 0;
            }

            await context.Output.TableAsync(["NAME", "VERSION", "CONTROLLERS", "VMMS", "SCHEMES", "DIRECTORY"],
                host.Plugins.Select(p => (IReadOnlyList<string>)[p.Name, p.Version, Join(p.Controllers), Join(p.Vmms), Join(p.ExecutorSchemes),
                    p.Directory == "" ? "(in-process)" : p.Directory])).ConfigureAwait(false);
            return 0;
        });
        return new Command("plugins", "Inspect plugins") { list };
    }

    internal static string Join(IReadOnlyList<string> names) => names.Count == 0 ? "-" : string.Join(",", names);
}
