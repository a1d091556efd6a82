using System.CommandLine;

namespace Isola.Cli.Commands;

/// <summary>
/// Every top-level command of <c>isola</c>. Adding a command is one line here: a method that builds it from the
/// shared <see cref="CliContext"/> (global options, output, host start).
/// </summary>
internal static class CommandCatalog
{
    public static IReadOnlyList<Func<CliContext, Command>> All { get; } =
    [
        SandboxCommands.Create,
        ContainerCommands.Create,
        ImageCommands.Create,
        PluginCommands.Create,
        RuntimeCommands.Create,
        VersionCommand.Create,
        RunCommand.Create,
        ServeCommand.Create,
    ];
}
