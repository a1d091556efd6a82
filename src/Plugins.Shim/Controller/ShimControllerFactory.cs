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
    /// The -address a shim is given (it hashes it into its socket path) and the TTRPC_ADDRESS this host serves events
    /// on. Both derive from the state root and runtime name, so a restarted host listens where its shims publish.
    /// </summary>
    internal static ShimSettings SettingsFor(ShimControllerOptions options, string stateRoot, string runtimeName)
    {
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Path.GetFullPath(stateRoot) + "\0" + runtimeName)))[..16];
        var address = Path.Combine(EventsDirectory, hash + ".sock");
        return new ShimSettings
        {
            ShimBinary = options.ShimBinary,
            Namespace = options.Namespace,
            ContainerdAddress = address,
            TtrpcAddress = address + ".ttrpc",
        };
    }
}
