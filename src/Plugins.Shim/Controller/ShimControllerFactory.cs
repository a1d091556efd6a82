using System.Security.Cryptography;
using System.Text;
using Isola.Controllers;
using Isola.Plugins.Shim.Launcher;

namespace Isola.Plugins.Shim.Controller;

/// <summary>The <c>shim</c> controller kind: pause-container sandboxes on containerd-shim-runc-v2.</summary>
internal sealed class ShimControllerFactory : ISandboxControllerFactory
{
    /// <summary>Where the per-host events sockets live (kept short: Unix socket paths are limited to 108 bytes).</summary>
    internal const string EventsDirectory = "/run/isola/shim";

    public string Name => "shim";

    public ISandboxController Create(ControllerContext context)
    {
        var options = ShimControllerOptions.Bind(context.Options, context.ConfigPath);
        return new ShimController(options, SettingsFor(options, context.StateRoot, context.RuntimeName), context.LoggerFactory);
    }

    /// <summary>
    /// The -address a shim is given and the TTRPC_ADDRESS it publishes events to. The -address derives from the state
    /// root and runtime name only, because the shim hashes it into its socket path and a later host process must
    /// find the same shims. The events socket is this controller's own (pid and a random suffix): a CLI host that
    /// comes and goes must never unlink the socket a long-running `isola serve` listens on.
    /// </summary>
    /// <remarks>
    /// A shim keeps the TTRPC_ADDRESS it was started with, so once the process that started a pod exits, that pod's
    /// shim publishes to a dead socket (it retries, then drops the event). Nothing is lost: exits are observed through
    /// Task.Wait, not through events.
    /// </remarks>
    internal static ShimSettings SettingsFor(ShimControllerOptions options, string stateRoot, string runtimeName)
    {
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Path.GetFullPath(stateRoot) + "\0" + runtimeName)))[..16];
        var address = Path.Combine(EventsDirectory, hash + ".sock");
        // Random, not a counter: every host in a process loads the plugin into its own load context, with its own statics.
        var events = Path.Combine(EventsDirectory, $"events-{Environment.ProcessId}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4))}.sock");
        return new ShimSettings
        {
            ShimBinary = options.ShimBinary,
            Namespace = options.Namespace,
            ContainerdAddress = address,
            TtrpcAddress = events,
        };
    }
}
