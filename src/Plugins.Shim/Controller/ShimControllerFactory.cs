using System.Security.Cryptography;
using System.Text;
using Isola.Controllers;
using Isola.Plugins.Shim.Launcher;

namespace Isola.Plugins.Shim.Controller;

/// <summary>The <c>shim</c> controller kind: pause-container sandboxes on containerd-shim-runc-v2.</summary>
internal sealed class ShimControllerFactory : ISandboxControllerFactory
{
    /// <summary>Where the events sockets live, and the -address shims hash (kept short: Unix socket paths are limited to 108 bytes).</summary>
    internal const string EventsDirectory = "/run/isola/shim";

    public string Name => "shim";

    /// <summary>A fresh install, with no configuration file, gets runtime <c>runc</c> on this controller with every
    /// option at its default (the OCI runtime runc).</summary>
    public DefaultRuntimeOffer DefaultRuntime { get; } = new("runc");

    public ISandboxController Create(ControllerContext context)
    {
        var options = ShimControllerOptions.Bind(context.Options, context.ConfigPath);
        return new ShimController(options, SettingsFor(options, context.StateRoot, context.RuntimeName), context.LoggerFactory, context.Services);
    }

    /// <summary>
    /// What shims of one state root and runtime are given. The -address derives from the state root and runtime name
    /// only, because the shim hashes it into its socket path and a later host process must find the same shims. The
    /// events socket (TTRPC_ADDRESS) is containerd's convention, the -address plus ".ttrpc": one stable path for every
    /// host process of the root and runtime (see <see cref="Events.EventsEndpoint"/>). The default namespace and each
    /// pod's cgroup leaf carry a hash of the full state root, because runc keys its state by namespace and id and
    /// cgroups by path: two state roots with the same sandbox id must never touch each other's pods.
    /// </summary>
    internal static ShimSettings SettingsFor(ShimControllerOptions options, string stateRoot, string runtimeName)
    {
        var root = Path.GetFullPath(stateRoot);
        var key = Hash(root + "\0" + runtimeName)[..16];
        var address = Path.Combine(EventsDirectory, key + ".sock");
        var tag = Hash(root)[..12];
        return new ShimSettings
        {
            ShimBinary = options.ShimBinary,
            Namespace = options.Namespace ?? DefaultNamespace(tag),
            ContainerdAddress = address,
            TtrpcAddress = address + ".ttrpc",
            StateRootTag = tag,
            GroupId = "isola-group-" + key,
            GroupDirectory = Path.Combine(EventsDirectory, key + ".group"),
        };
    }

    /// <summary>The containerd namespace of a state root whose configuration names none.</summary>
    internal static string DefaultNamespace(string stateRootTag) => "isola-" + stateRootTag;

    /// <summary>True for a name <see cref="DefaultNamespace"/> makes (isola- and 12 lower-case hex digits).</summary>
    internal static bool IsDefaultNamespace(string name) =>
        name.Length == 18 && name.StartsWith("isola-", StringComparison.Ordinal) && name[6..].All(char.IsAsciiHexDigitLower);

    private static string Hash(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
}
