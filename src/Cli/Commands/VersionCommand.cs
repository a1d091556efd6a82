using System.CommandLine;
using System.Reflection;
using System.Runtime.InteropServices;
using Isola.Plugins;

namespace Isola.Cli.Commands;

/// <summary><c>isola version</c>: needs no host, so it works even when configuration or plugins are broken.</summary>
internal static class VersionCommand
{
    public static Command Create(CliContext context)
    {
        var command = new Command("version", "Print the isola, contract and .NET versions");
        context.SetAction(command, async (parse, ct) =>
        {
            var version = new VersionInfo(
                typeof(VersionCommand).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0",
                typeof(IIsolaPlugin).Assembly.GetName().Version!.ToString(),
                RuntimeInformation.FrameworkDescription,
                RuntimeInformation.RuntimeIdentifier);
            if (context.Output.IsJson(parse))
            {
                await context.Output.JsonAsync(version).ConfigureAwait(false);
            }
            else
            {
                await context.Output.PairsAsync(
                [
                    ("isola", version.Isola), ("abstractions", version.Abstractions), ("runtime", version.Runtime), ("platform", version.Platform),
                ]).ConfigureAwait(false);
            }

            return 0;
        });
        return command;
    }

    private sealed record VersionInfo(string Isola, string Abstractions, string Runtime, string Platform);
}
