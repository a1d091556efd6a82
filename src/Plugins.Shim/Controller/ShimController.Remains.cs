using Isola.Controllers;
using Isola.Plugins.Shim.Launcher;
using Keys = Isola.Plugins.Shim.Controller.ControllerDataKeys;

namespace Isola.Plugins.Shim.Controller;

/// <summary>What a pod left on the machine: the settings its shim was started with, and runc's namespace directory.</summary>
internal sealed partial class ShimController
{
    // The runc shim runs its OCI runtime with --root RuncRoot/NAMESPACE (we never set the options' Root).
    private const string RuncRoot = "/run/containerd/runc";

    /// <summary>The shim settings the sandbox was started with: recorded values win over this host's configuration, so
    /// a sandbox recorded by an earlier host (another default namespace, say) is still found and cleaned.</summary>
    private ShimSettings SettingsOf(SandboxContext sandbox) => _settings with
    {
        Namespace = Get(sandbox.ControllerData, Keys.Namespace, _settings.Namespace),
        ContainerdAddress = Get(sandbox.ControllerData, Keys.ContainerdAddress, _settings.ContainerdAddress),
        ShimBinary = Get(sandbox.ControllerData, Keys.ShimBinary, _settings.ShimBinary),
    };

    /// <summary>
    /// Removes /run/containerd/runc/NAMESPACE once it is empty, for the namespace derived from this state root only:
    /// one per state root would otherwise pile up, while a configured namespace may be shared with other users of runc.
    /// A Start holds <see cref="StartsLock"/> shared from `shim start` to the pause's Create (where runc makes the
    /// directory), so the exclusive lock taken here (without waiting: a start in progress needs the directory) means no
    /// runc of this host family is about to use it.
    /// </summary>
    private void RemoveEmptyNamespace(SandboxContext sandbox)
    {
        var ns = SettingsOf(sandbox).Namespace;
        var dir = Path.Combine(RuncRoot, ns);
        if (ns != ShimControllerFactory.DefaultNamespace(_settings.StateRootTag) || !Directory.Exists(dir))
        {
            return;
        }

        using var held = StartsLock.TryExclusive();
        if (held is not null && !Directory.EnumerateFileSystemEntries(dir).Any())
        {
            try
            {
                Directory.Delete(dir);
            }
            catch (IOException)
            {
                // filled meanwhile
            }
        }
    }

    /// <summary>The lock pod starts hold shared (see <see cref="RemoveEmptyNamespace"/>): on the shim directory, which the
    /// events endpoint locks the same way.</summary>
    private static class StartsLock
    {
        public static Shim.Events.DirectoryLock Shared()
        {
            Directory.CreateDirectory(ShimControllerFactory.EventsDirectory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            return Shim.Events.DirectoryLock.Shared(ShimControllerFactory.EventsDirectory);
        }

        public static Shim.Events.DirectoryLock? TryExclusive() =>
            Directory.Exists(ShimControllerFactory.EventsDirectory) ? Shim.Events.DirectoryLock.TryExclusive(ShimControllerFactory.EventsDirectory) : null;
    }
}
