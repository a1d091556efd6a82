using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;

namespace Isola.Bench;

/// <summary>How an assembly was built, read from the file itself rather than assumed: its configuration
/// (AssemblyConfigurationAttribute) and whether it carries ReadyToRun code.</summary>
internal static class BuildInfo
{
    /// <summary>For example "Release, ReadyToRun" or "Debug, IL only".</summary>
    public static string Describe(string assembly)
    {
        using var stream = File.OpenRead(assembly);
        using var pe = new PEReader(stream);
        var readyToRun = pe.PEHeaders.CorHeader?.ManagedNativeHeaderDirectory.Size > 0;
        var metadata = pe.GetMetadataReader();
        var configuration = "configuration unknown";
        foreach (var handle in metadata.GetAssemblyDefinition().GetCustomAttributes())
        {
            var attribute = metadata.GetCustomAttribute(handle);
            if (attribute.Constructor.Kind == HandleKind.MemberReference
                && metadata.GetMemberReference((MemberReferenceHandle)attribute.Constructor).Parent is { Kind: HandleKind.TypeReference } parent
                && metadata.GetString(metadata.GetTypeReference((TypeReferenceHandle)parent).Name) == "AssemblyConfigurationAttribute")
            {
                var value = metadata.GetBlobReader(attribute.Value);
                value.ReadUInt16(); // the custom attribute prolog
                configuration = value.ReadSerializedString() ?? configuration;
            }
        }

        return $"{configuration}, {(readyToRun ? "ReadyToRun" : "IL only")}";
    }
}
