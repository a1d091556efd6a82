using System.CommandLine;
using Isola.Cli.Output;

namespace Isola.Cli.Commands;

/// <summary><c>isola sandbox run|ls|inspect|stop|rm|wait</c>.</summary>
internal static class SandboxCommands
{
    public static Command Create(CliContext context)
    {
        var group = new Command("sandbox", "Manage sandboxes (pods)");
        group.Subcommands.Add(Run(context));
        group.Subcommands.Add(List(context));
        group.Subcommands.Add(Inspect(context));
        group.Subcommands.Add(Stop(context));
        group.Subcommands.Add(Remove(context));
        group.Subcommands.Add(Wait(context));
        return group;
    }

    private static Argument<string> SandboxArgument() =>
        new Argument<string>("sandbox") { Description = "Sandbox id or name" }.Checked(v => OptionChecks.Id(v, "sandbox id or name"));

    private static Command Run(CliContext context)
    {
        var id = new Option<string?>("--id") { Description = "Sandbox id (generated when omitted)" }.Checked(v => OptionChecks.Id(v, "sandbox id"));
        var name = new Option<string?>("--name") { Description = "Unique name (default: the id)" }.Checked(v => OptionChecks.Id(v, "sandbox name"));
        var runtime = new Option<string?>("--runtime") { Description = "Runtime handler (default: Isola:DefaultRuntime)" };
        var hostname = new Option<string?>("--hostname") { Description = "The pod's hostname" };
        var network = new Option<string?>("--network") { Description = "'host', 'pod' or 'pod:NAME' (a CNI pod network), a netns path, or empty for a new namespace" };
        var publish = new Option<string[]>("--publish", "-p") { Description = "Publish [HOSTIP:]HOSTPORT:PORT[/PROTO] on a pod network (repeatable)" }
            .Checked(v => OptionChecks.Ports(v));
        var labels = new Option<string[]>("--label") { Description = "Label KEY=VALUE (repeatable)", }
            .Checked(v => OptionParsing.KeyValues(v, "--label"));
        var annotations = new Option<string[]>("--annotation") { Description = "Annotation KEY=VALUE passed to the controller (repeatable)" }
            .Checked(v => OptionParsing.KeyValues(v, "--annotation"));
        var cgroupParent = new Option<string?>("--cgroup-parent") { Description = "Parent cgroup of the sandbox" };
        var dns = new Option<string[]>("--dns") { Description = "DNS server (an IP address) for the pod's resolv.conf (repeatable)" }
            .Checked(OptionChecks.DnsServers);
        var command = new Command("run", "Create and start a sandbox; prints its id")
        {
            id, name, runtime, hostname, network, publish, labels, annotations, cgroupParent, dns,
        };
        context.SetHostAction(command, async (parse, host, ct) =>
        {
            var spec = new SandboxSpec
            {
                Id = parse.GetValue(id) is { } text ? SandboxId.Parse(text) : (SandboxId?)null,
                Name = parse.GetValue(name),
                Runtime = parse.GetValue(runtime),
                Hostname = parse.GetValue(hostname),
                Network = parse.GetValue(network),
                Labels = OptionParsing.KeyValues(parse.GetValue(labels), "--label"),
                Annotations = OptionParsing.KeyValues(parse.GetValue(annotations), "--annotation"),
                CgroupParent = parse.GetValue(cgroupParent),
                DnsServers = parse.GetValue(dns) ?? [],
                Ports = [.. (parse.GetValue(publish) ?? []).Select(PortMapping.Parse)],
            };
            var sandbox = await host.Sandboxes.RunAsync(spec, ct).ConfigureAwait(false);
            await Print(context, parse, sandbox.Info, idOnly: true).ConfigureAwait(false);
            return 0;
        });
        return command;
    }

    private static Command List(CliContext context)
    {
        var command = new Command("ls", "List sandboxes");
        context.SetHostAction(command, async (parse, host, ct) =>
        {
            var all = await host.Sandboxes.ListAsync(ct).ConfigureAwait(false);
            if (context.Output.IsJson(parse))
            {
                await context.Output.JsonAsync(all).ConfigureAwait(false);
            }
            else
            {
                await context.Output.TableAsync(["ID", "NAME", "RUNTIME", "STATE", "PID", "CONTAINERS", "CREATED"],
                    all.Select(s => (IReadOnlyList<string>)[s.Id.Value, s.Name, s.Runtime, s.State.ToString(), s.Pid == 0 ? "-" : s.Pid.ToString(),
                        s.Containers.Count.ToString(), OutputWriter.Time(s.CreatedAt)])).ConfigureAwait(false);
            }

            foreach (var path in host.Sandboxes.QuarantinedRecords)
            {
                await context.Stderr.WriteLineAsync($"isola: warning: unreadable record quarantined at '{path}'").ConfigureAwait(false);
            }

            // The listing is printed whole, but a state that could not be confirmed is not what was asked for: say
            // which and why, and fail.
            return await ReportUnconfirmedAsync(context, all).ConfigureAwait(false);
        });
        return command;
    }

    /// <summary>One stderr line per sandbox whose controller did not answer Status; 1 when a state shown is not
    /// known to be true (no answer in time). Pending is known: the controller could not be reached.</summary>
    private static async Task<int> ReportUnconfirmedAsync(CliContext context, IEnumerable<SandboxInfo> sandboxes)
    {
        var status = 0;
        foreach (var s in sandboxes.Where(s => s.StatusError is not null))
        {
            var unknown = s.State != SandboxState.Pending;
            await context.Stderr.WriteLineAsync(unknown
                ? $"isola: sandbox '{s.Id}': state {s.State} not confirmed: {s.StatusError}"
                : $"isola: sandbox '{s.Id}': Pending: {s.StatusError}").ConfigureAwait(false);
            status = unknown ? 1 : status;
        }

        return status;
    }

    private static Command Inspect(CliContext context)
    {
        var sandboxArg = SandboxArgument();
        var command = new Command("inspect", "Show a sandbox, refreshed from its controller") { sandboxArg };
        context.SetHostAction(command, async (parse, host, ct) =>
        {
            // A command's host refreshes the sandbox it looks up (OnDemand), or all of them at start (Full): its Info is
            // current, and InspectAsync would ask the controller a second time.
            var sandbox = await host.Sandboxes.GetAsync(parse.GetValue(sandboxArg)!, ct).ConfigureAwait(false);
            await Print(context, parse, sandbox.Info, idOnly: false).ConfigureAwait(false);
            return await ReportUnconfirmedAsync(context, [sandbox.Info]).ConfigureAwait(false);
        });
        return command;
    }

    private static Command Stop(CliContext context)
    {
        var sandboxArg = SandboxArgument();
        var timeout = new Option<double?>("--timeout", "-t") { Description = "Seconds to wait for a graceful stop (default Isola:Timeouts:Stop)" }
            .Checked(v => OptionChecks.NotNegative(v, "--timeout"));
        var command = new Command("stop", "Stop a sandbox (idempotent)") { sandboxArg, timeout };
        context.SetHostAction(command, async (parse, host, ct) =>
        {
            var sandbox = await host.Sandboxes.GetAsync(parse.GetValue(sandboxArg)!, ct).ConfigureAwait(false);
            var seconds = parse.GetValue(timeout);
            await sandbox.StopAsync(seconds is { } s ? TimeSpan.FromSeconds(s) : null, ct).ConfigureAwait(false);
            await Print(context, parse, sandbox.Info, idOnly: true).ConfigureAwait(false);
            return 0;
        });
        return command;
    }

    private static Command Remove(CliContext context)
    {
        var sandboxes = new Argument<string[]>("sandbox") { Description = "Sandbox ids or names", Arity = ArgumentArity.OneOrMore }
            .Checked(values => Array.ForEach(values ?? [], v => OptionChecks.Id(v, "sandbox id or name")));
        var command = new Command("rm", "Stop and remove sandboxes (idempotent for a sandbox removed concurrently)") { sandboxes };
        context.SetHostAction(command, async (parse, host, ct) =>
        {
            foreach (var idOrName in parse.GetValue(sandboxes)!)
            {
                var sandbox = await host.Sandboxes.GetAsync(idOrName, ct).ConfigureAwait(false);
                await sandbox.RemoveAsync(ct).ConfigureAwait(false);
                await context.Stdout.WriteLineAsync(sandbox.Id.Value).ConfigureAwait(false);
            }

            return 0;
        });
        return command;
    }

    private static Command Wait(CliContext context)
    {
        var sandboxArg = SandboxArgument();
        var command = new Command("wait", "Block until a sandbox exits; prints its exit status") { sandboxArg };
        context.SetHostAction(command, async (parse, host, ct) =>
        {
            var sandbox = await host.Sandboxes.GetAsync(parse.GetValue(sandboxArg)!, ct).ConfigureAwait(false);
            var exit = await sandbox.WaitAsync(ct).ConfigureAwait(false);
            if (context.Output.IsJson(parse))
            {
                await context.Output.JsonAsync(exit).ConfigureAwait(false);
            }
            else
            {
                await context.Stdout.WriteLineAsync(exit.Code.ToString()).ConfigureAwait(false);
            }

            return 0;
        });
        return command;
    }

    private static async Task Print(CliContext context, ParseResult parse, SandboxInfo info, bool idOnly)
    {
        if (context.Output.IsJson(parse))
        {
            await context.Output.JsonAsync(info).ConfigureAwait(false);
        }
        else if (idOnly)
        {
            await context.Stdout.WriteLineAsync(info.Id.Value).ConfigureAwait(false);
        }
        else
        {
            await context.Output.PairsAsync(
            [
                ("ID", info.Id.Value), ("Name", info.Name), ("Runtime", info.Runtime), ("Controller", info.Controller),
                ("State", info.State.ToString()), ("Pid", info.Pid.ToString()), ("Task address", info.TaskAddress == "" ? "-" : info.TaskAddress),
                ("Task API", info.TaskApiVersion == 0 ? "-" : $"v{info.TaskApiVersion}"), ("Created", OutputWriter.Time(info.CreatedAt)),
                ("Started", OutputWriter.Time(info.StartedAt)), ("Exit", info.Exit is { } e ? $"{e.Code} at {OutputWriter.Time(e.ExitedAt)}" : "-"),
                ("Containers", info.Containers.Count == 0 ? "-" : string.Join(", ", info.Containers.Select(c => $"{c.Id} ({c.State})"))),
                ("Network", info.Network is { } n ? $"{n.Name} {string.Join(",", n.Addresses)} ({n.Namespace})" : info.Spec.Network is { Length: > 0 } net ? net : "own namespace"),
                ("Ports", info.Network is { Ports.Count: > 0 } p ? string.Join(", ", p.Ports.Select(x => $"{(x.HostIp == "" ? "" : x.HostIp + ":")}{x.HostPort}->{x.ContainerPort}/{x.Protocol}")) : "-"),
            ]).ConfigureAwait(false);
        }
    }
}
