using System.Reflection;
using Isola.Plugins;

namespace Isola.Hosting.Plugins;

/// <summary>
/// Checks which Isola.Abstractions version a plugin assembly was compiled against, from the references in its metadata,
/// before any of its types is resolved: a plugin built against a newer contract than the host's would otherwise fail
/// later with a FileNotFoundException or an InvalidCastException that does not say what is wrong.
/// </summary>
internal static class AbstractionsVersionGuard
{
    /// <summary>The contract assembly's simple name.</summary>
    public static readonly string AbstractionsName = typeof(IIsolaPlugin).Assembly.GetName().Name!;

    /// <summary>The contract version this host ships.</summary>
    public static Version HostVersion => typeof(IIsolaPlugin).Assembly.GetName().Version!;

    /// <summary>The Isola.Abstractions version <paramref name="assembly"/> references; null when it references none.
    /// Reading the references loads none of them.</summary>
    public static Version? ReferencedVersion(Assembly assembly)
    {
        foreach (var reference in assembly.GetReferencedAssemblies())
        {
            if (string.Equals(reference.Name, AbstractionsName, StringComparison.Ordinal))
            {
                return reference.Version;
            }
        }

        return null;
    }

    /// <summary>Throws naming the folder and both versions when the plugin needs a newer contract than the host has, or
    /// was built against an older major version (whose members changed: it would fail at its first call).</summary>
    public static void Check(string folder, Assembly assembly)
    {
        var file = Path.GetFileName(assembly.Location);
        var wanted = ReferencedVersion(assembly)
            ?? throw IsolaException.InvalidArgument(
                $"plugin folder '{folder}': {file} does not reference {AbstractionsName}, so it is not an Isola plugin");
        var host = HostVersion;
        if (wanted > host)
        {
            throw new IsolaException(IsolaErrorCode.FailedPrecondition,
                $"plugin folder '{folder}': built against {AbstractionsName} {wanted}, newer than this host's {host}; " +
                $"rebuild the plugin against {AbstractionsName} {host.Major}.x or upgrade Isola");
        }

        if (wanted.Major < host.Major)
        {
            throw new IsolaException(IsolaErrorCode.FailedPrecondition,
                $"plugin folder '{folder}': built against {AbstractionsName} {wanted}, an older major version than this host's {host}; " +
                $"rebuild the plugin against {AbstractionsName} {host.Major}.x");
        }
    }
}
