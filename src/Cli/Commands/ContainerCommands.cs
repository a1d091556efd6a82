using System.CommandLine;
using Isola.Cli.Output;

namespace Isola.Cli.Commands;

/// <summary><c>isola container run|ls|inspect|logs|exec|stop|rm</c>.</summary>
internal static class ContainerCommands
{
    public static Command Create(CliContext context)
    {
        var group = new Command("container", "Manage containers inside a sandbox");
        group.Subcommands.Add(Run(context));
        group.Subcommands.Add(List(context));
        group.Subcommands.Add(Inspect(context));
        group.Subcommands.Add(Logs(context));
        group.Subcommands.Add(Exec(context));
        group.Subcommands.Add(Stop(context));
        group.Subcommands.Add(Remove(context));
        return group;
    }

    private static Argument<string> SandboxArgument() =>
        new Argument<string>("sandbox") { Description = "Sandbox id or name" }.Checked(v => OptionChecks.Id(v, "sandbox id or name"));

    private static Argument<string> ContainerArgument() =>
        new Argument<string>("container") { Description = "Container id" }.Checked(v => OptionChecks.Id(v, "container id"));

    private static Option<string[]> EnvOption() =>
        new Option<string[]>("--env", "-e") { Description = "Environment variable NAME=VALUE (repeatable)" }.Checked(v => OptionParsing.Env(v));

    private static Argument<string[]> CommandArgument() =>
        new("command") { Description = "The command and its arguments (after --)", Arity = ArgumentArity.OneOrMore };

    private static Command Run(CliContext context)
    {
        var sandboxArg = SandboxArgument();
        var commandArg = new Argument<string[]>("command")
        {
            Description = "The command and its arguments (after --); with --image, optional: the image's Cmd then",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var rootfs = new Option<string?>("--rootfs") { Description = "Root filesystem directory (or image file for VM sandboxes)" };
        var image = new Option<string?>("--image") { Description = "OCI image to run (pulled when missing); its rootfs and defaults" };
        var id = new Option<string?>("--id") { Description = "Container id (generated when omitted)" }.Checked(v => OptionChecks.Id(v, "container id"));
        var env = EnvOption();
        var cwd = new Option<string?>("--cwd") { Description = "Working directory inside the container" };
        var readOnly = new Option<bool>("--read-only") { Description = "Mount the rootfs read-only" };
        var user = new Option<string?>("--user", "-u") { Description = "UID[:GID] the process runs as" }.Checked(v => OptionParsing.User(v));
        var mounts = new Option<string[]>("--mount", "-m") { Description = "Bind mount HOST:CONTAINER[:ro] (repeatable)" }
            .Checked(v => OptionParsing.Mounts(v));
        var remove = new Option<bool>("--rm") { Description = "Delete the container once it exits" };
        var detach = new Option<bool>("--detach", "-d") { Description = "Print the container id and return without waiting" };
        var command = new Command("run", "Run a container; waits and exits with its exit code unless -d")
        {
            sandboxArg, commandArg, rootfs, image, id, env, cwd, readOnly, user, mounts, remove, detach,
        };
        command.Validators.Add(result =>
        {
            if ((result.GetValue(rootfs) is null) == (result.GetValue(image) is null))
            {
                result.AddError("give --rootfs DIR or --image REF (one of them)");
            }
            else if (result.GetValue(rootfs) is not null && (result.GetValue(commandArg) ?? []).Length == 0)
            {
                result.AddError("with --rootfs, give the command to run after --");
            }

            if (result.GetValue(detach) && result.GetValue(remove))
            {
                result.AddError("--rm and --detach cannot be combined: nothing would be left to wait for the exit");
            }
        });
        context.SetHostAction(command, async (parse, host, ct) =>
        {
            var sandbox = await host.Sandboxes.GetAsync(parse.GetValue(sandboxArg)!, ct).ConfigureAwait(false);
            var (uid, gid) = OptionParsing.User(parse.GetValue(user));
            var spec = new ContainerSpec
            {
                Uid = uid,
                Gid = gid,
                Mounts = OptionParsing.Mounts(parse.GetValue(mounts)),
                Id = parse.GetValue(id) is { } text ? ContainerId.Parse(text) : (ContainerId?)null,
                Rootfs = parse.GetValue(rootfs) is { } dir ? Path.GetFullPath(dir) : "",
                Image = parse.GetValue(image),
                ReadOnlyRootfs = parse.GetValue(readOnly),
                Args = parse.GetValue(commandArg) ?? [],
                Env = OptionParsing.Env(parse.GetValue(env)),
                Cwd = parse.GetValue(cwd),
            };
            var container = await sandbox.Containers.RunAsync(spec, ct).ConfigureAwait(false);
            if (parse.GetValue(detach))
            {
                await PrintId(context, parse, container.Info).ConfigureAwait(false);
                return 0;
            }

            var exit = await FollowUntilExitAsync(context, container.Info.Stdio, token => container.WaitAsync(token), ct).ConfigureAwait(false);
            if (parse.GetValue(remove))
            {
                await container.DeleteAsync(force: true, ct).ConfigureAwait(false);
            }

            return ExitCode(exit);
        });
        return command;
    }

    private static Command List(CliContext context)
    {
        var sandboxArg = SandboxArgument();
        var command = new Command("ls", "List the containers of a sandbox") { sandboxArg };
        context.SetHostAction(command, async (parse, host, ct) =>
        {
            var sandbox = await host.Sandboxes.GetAsync(parse.GetValue(sandboxArg)!, ct).ConfigureAwait(false);
            var all = await sandbox.Containers.ListAsync(ct).ConfigureAwait(false);
            if (context.Output.IsJson(parse))
            {
                await context.Output.JsonAsync(all).ConfigureAwait(false);
                return 0;
            }

            await context.Output.TableAsync(["ID", "STATE", "PID", "EXIT", "COMMAND", "CREATED"],
                all.Select(c => (IReadOnlyList<string>)[c.Id.Value, c.State.ToString(), c.Pid == 0 ? "-" : c.Pid.ToString(),
                    c.Exit is { } e ? e.Code.ToString() : "-", string.Join(' ', c.Spec.Args), OutputWriter.Time(c.CreatedAt)])).ConfigureAwait(false);
            return 0;
        });
        return command;
    }

    private static Command Inspect(CliContext context)
    {
        var sandboxArg = SandboxArgument();
        var containerArg = ContainerArgument();
        var command = new Command("inspect", "Show a container, refreshed from its task service") { sandboxArg, containerArg };
        context.SetHostAction(command, async (parse, host, ct) =>
        {
            var container = await GetAsync(host, parse, sandboxArg, containerArg, ct).ConfigureAwait(false);
            var info = await container.InspectAsync(ct).ConfigureAwait(false);
            if (context.Output.IsJson(parse))
            {
                await context.Output.JsonAsync(info).ConfigureAwait(false);
                return 0;
            }

            await context.Output.PairsAsync(
            [
                ("ID", info.Id.Value), ("Sandbox", info.SandboxId.Value), ("State", info.State.ToString()), ("Pid", info.Pid.ToString()),
                ("Command", string.Join(' ', info.Spec.Args)), ("Rootfs", info.Spec.Rootfs), ("Bundle", info.Bundle == "" ? "-" : info.Bundle),
                ("Stdout", info.Stdio.Stdout == "" ? "-" : info.Stdio.Stdout), ("Stderr", info.Stdio.Stderr == "" ? "-" : info.Stdio.Stderr),
                ("Created", OutputWriter.Time(info.CreatedAt)), ("Exit", info.Exit is { } e ? $"{e.Code} at {OutputWriter.Time(e.ExitedAt)}" : "-"),
            ]).ConfigureAwait(false);
            return 0;
        });
        return command;
    }

    private static Command Logs(CliContext context)
    {
        var sandboxArg = SandboxArgument();
        var containerArg = ContainerArgument();
        var command = new Command("logs", "Print a container's captured stdout (to stdout) and stderr (to stderr)") { sandboxArg, containerArg };
        context.SetHostAction(command, async (parse, host, ct) =>
        {
            var container = await GetAsync(host, parse, sandboxArg, containerArg, ct).ConfigureAwait(false);
            var stdio = container.Info.Stdio;
            var stdout = LogFollower.LocalPath(stdio.Stdout);
            var stderr = LogFollower.LocalPath(stdio.Stderr);
            if (stdout is null && stderr is null)
            {
                throw IsolaException.FailedPrecondition(
                    $"container '{container.Id}' in sandbox '{container.SandboxId}': its output is not captured to files (stdout '{stdio.Stdout}')");
            }

            if (stdout is not null)
            {
                await LogFollower.CopyAsync(stdout, context.Stdout, ct).ConfigureAwait(false);
            }

            if (stderr is not null)
            {
                await LogFollower.CopyAsync(stderr, context.Stderr, ct).ConfigureAwait(false);
            }

            return 0;
        });
        return command;
    }

    private static Command Exec(CliContext context)
    {
        var sandboxArg = SandboxArgument();
        var containerArg = ContainerArgument();
        var commandArg = CommandArgument();
        var env = EnvOption();
        var cwd = new Option<string?>("--cwd") { Description = "Working directory (default: the container's)" };
        var command = new Command("exec", "Run a process in a running container; exits with its exit code")
        {
            sandboxArg, containerArg, commandArg, env, cwd,
        };
        context.SetHostAction(command, async (parse, host, ct) =>
        {
            var container = await GetAsync(host, parse, sandboxArg, containerArg, ct).ConfigureAwait(false);
            var execId = ExecId.New();
            // The host's own default, asked for up front so its files can be followed while the exec runs.
            var stdio = host.DefaultExecStdio(container, execId);
            var spec = new ExecSpec { ExecId = execId, Args = parse.GetValue(commandArg)!, Env = OptionParsing.Env(parse.GetValue(env)), Cwd = parse.GetValue(cwd), Stdio = stdio };
            var exit = await FollowUntilExitAsync(context, stdio, token => container.ExecAsync(spec, token), ct).ConfigureAwait(false);
            return ExitCode(exit);
        });
        return command;
    }

    private static Command Stop(CliContext context)
    {
        var sandboxArg = SandboxArgument();
        var containerArg = ContainerArgument();
        var timeout = new Option<double>("--timeout", "-t") { Description = "Seconds between SIGTERM and SIGKILL", DefaultValueFactory = _ => 10 }
            .Checked(v => OptionChecks.NotNegative(v, "--timeout"));
        var command = new Command("stop", "Stop a container: SIGTERM, then SIGKILL after the timeout") { sandboxArg, containerArg, timeout };
        context.SetHostAction(command, async (parse, host, ct) =>
        {
            var seconds = parse.GetValue(timeout);
            var container = await GetAsync(host, parse, sandboxArg, containerArg, ct).ConfigureAwait(false);
            await container.StopAsync(TimeSpan.FromSeconds(seconds), ct).ConfigureAwait(false);
            await PrintId(context, parse, container.Info).ConfigureAwait(false);
            return 0;
        });
        return command;
    }

    private static Command Remove(CliContext context)
    {
        var sandboxArg = SandboxArgument();
        var containerArg = ContainerArgument();
        var force = new Option<bool>("--force", "-f") { Description = "Stop it first if it runs" };
        var command = new Command("rm", "Delete a container and purge it from its sandbox") { sandboxArg, containerArg, force };
        context.SetHostAction(command, async (parse, host, ct) =>
        {
            var container = await GetAsync(host, parse, sandboxArg, containerArg, ct).ConfigureAwait(false);
            await container.DeleteAsync(parse.GetValue(force), ct).ConfigureAwait(false);
            await context.Stdout.WriteLineAsync(container.Id.Value).ConfigureAwait(false);
            return 0;
        });
        return command;
    }

    private static async Task<IContainer> GetAsync(Hosting.IsolaHost host, ParseResult parse, Argument<string> sandboxArg,
        Argument<string> containerArg, CancellationToken ct)
    {
        var sandbox = await host.Sandboxes.GetAsync(parse.GetValue(sandboxArg)!, ct).ConfigureAwait(false);
        return await sandbox.Containers.GetAsync(ContainerId.Parse(parse.GetValue(containerArg)), ct).ConfigureAwait(false);
    }

    /// <summary>Streams the process's captured output while waiting for its exit.</summary>
    private static async Task<ExitStatus> FollowUntilExitAsync(CliContext context, StdioSpec stdio,
        Func<CancellationToken, Task<ExitStatus>> wait, CancellationToken ct)
    {
        using var stop = new CancellationTokenSource();
        var followers = new List<Task>();
        if (LogFollower.LocalPath(stdio.Stdout) is { } stdout)
        {
            followers.Add(LogFollower.FollowAsync(stdout, context.Stdout, stop.Token));
        }

        if (LogFollower.LocalPath(stdio.Stderr) is { } stderr)
        {
            followers.Add(LogFollower.FollowAsync(stderr, context.Stderr, stop.Token));
        }

        try
        {
            return await wait(ct).ConfigureAwait(false);
        }
        finally
        {
            await stop.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(followers).ConfigureAwait(false);
        }
    }

    private static Task PrintId(CliContext context, ParseResult parse, ContainerInfo info) =>
        context.Output.IsJson(parse) ? context.Output.JsonAsync(info) : context.Stdout.WriteLineAsync(info.Id.Value);

    /// <summary>A process exit status as a shell exit code.</summary>
    private static int ExitCode(ExitStatus exit) => (int)Math.Min(exit.Code, 255);
}
