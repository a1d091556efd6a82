using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using Isola.Plugins;

namespace Isola.Hosting.Plugins;

/// <summary>
/// Reads which Isola.Abstractions version a plugin assembly was compiled against, from its metadata and without
/// loading it: a plugin built against a newer contract than the host's would otherwise fail later with a
/// FileNotFoundException or an InvalidCastException that does not say what is wrong.
/// </summary>
internal static class AbstractionsVersionGuard
{
    /// <summary>The contract assembly's simple name.</summary>
    public static readonly string AbstractionsName = typeof(IIsolaPlugin).Assembly.GetName().Name!;

    /// <summary>The contract version this host ships.</summary>
    public static Version HostVersion => typeof(IIsolaPlugin).Assembly.GetName().Version!;

    /// <summary>The Isola.Abstractions version <paramref name="assemblyPath"/> references; null when it references none.</summary>
    public static Version? ReferencedVersion(string assemblyPath)
    {
        using var stream = File.OpenRead(assemblyPath);
        using var pe = new PEReader(stream);
        if (!pe.HasMetadata)
        {
            throw new BadImageFormatException($"'{Path.GetFileName(assemblyPath)}' is not a .NET assembly");
        }

        var metadata = pe.GetMetadataReader();
        foreach (var handle in metadata.AssemblyReferences)
        {
            var reference = metadata.GetAssemblyReference(handle);
            if (metadata.StringComparer.Equals(reference.Name, AbstractionsName))
            {
                return reference.Version;
            }
        }

        return null;
    }

    /// <summary>Throws naming the folder and both versions when the plugin needs a newer contract than the host has.</summary>
    public static void Check(string folder, string assemblyPath)
    {
        var wanted = ReferencedVersion(assemblyPath)
            ?? throw IsolaException.InvalidArgument(
                $"plugin folder '{folder}': {Path.GetFileName(assemblyPath)} does not reference {AbstractionsName}, so it is not an Isola plugin");
        var host = HostVersion;
        if (wanted > host)
        {
            throw new IsolaException(IsolaErrorCode.FailedPrecondition,
                $"plugin folder '{folder}': built against {AbstractionsName} {wanted}, newer than this host's {host}; " +
                $"rebuild the plugin against {AbstractionsName} {host.Major}.x or upgrade Isola");
        }
    }
}
