using System.CommandLine;
using System.Runtime.InteropServices;
using Isola.Hosting;
using Isola.Server;

namespace Isola.Cli.Commands;

/// <summary>
/// <c>isola serve --sandbox-api SOCKET</c>: serves containerd's v1 Sandbox Controller API on a Unix socket, backed by
/// this host's runtimes, until Ctrl+C or SIGTERM. A request's <c>sandboxer</c> field names the runtime handler.
/// </summary>
internal static class ServeCommand
{
    public static Command Create(CliContext context)
    {
        var socket = new Option<string>("--sandbox-api")
        {
            Description = "Unix socket to serve the Sandbox API on (created 0600), e.g. /run/isola-sandboxer.sock",
            Required = true,
        }.Checked(v => OptionChecks.NotEmpty(v, "--sandbox-api"));
        var defaultRuntime = new Option<string?>("--default-runtime")
        {
            Description = "Runtime handler for requests whose sandboxer field is empty (default: Isola:DefaultRuntime)",
        };
        var allowUid = new Option<uint[]>("--allow-uid")
        {
            Description = "A peer uid allowed to connect (repeatable; default: only the server's own uid)",
            AllowMultipleArgumentsPerToken = false,
        };
        var bundleRoot = new Option<string>("--bundle-root")
        {
            Description = "Where container bundles of Update(extensions.tasks) are written",
            DefaultValueFactory = _ => "/run/isola/sandbox-api",
        }.Checked(v => OptionChecks.NotEmpty(v, "--bundle-root"));
        var command = new Command("serve", "Serve the Sandbox API (v1) so containerd 2.x or iSulad can use Isola's runtimes")
        {
            socket, defaultRuntime, allowUid, bundleRoot,
        };
        context.SetHostAction(command, async (parse, host, ct) =>
        {
            var options = new SandboxApiServerOptions
            {
                SocketPath = Path.GetFullPath(parse.GetValue(socket)!),
                DefaultRuntime = parse.GetValue(defaultRuntime),
                AllowedUids = parse.GetValue(allowUid) ?? [],
                BundleRoot = Path.GetFullPath(parse.GetValue(bundleRoot)!),
            };
            // A long-running server must end cleanly on SIGINT and SIGTERM (unlink its socket, finish in-flight calls),
            // so it owns those signals while it serves instead of dying by their default action.
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
            using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
            using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
            await using var server = await SandboxApiServer.StartAsync(host, options, host.LoggerFactory, stop.Token).ConfigureAwait(false);
            await context.Stderr.WriteLineAsync($"isola: serving the Sandbox API on {server.SocketPath} (Ctrl+C to stop)").ConfigureAwait(false);
            try
            {
                await Task.Delay(Timeout.Infinite, stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                // Stop serving; the sandboxes keep running (they outlive the host).
            }

            return 0;

            void Stop(PosixSignalContext signal)
            {
                signal.Cancel = true;
                stop.Cancel();
            }
        }, RecoveryMode.Full);
        return command;
    }
}
