using Isola.Controllers;
using Isola.SandboxApi;
using Isola.SandboxApi.Cri;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;

namespace Isola.Plugins.Sandboxer.Wire;

/// <summary>What Create sends in both generations: the CRI PodSandboxConfig and the netns path.</summary>
internal static class PodSandboxConfigMapper
{
    /// <summary>The namespace CRI metadata carries for sandboxes Isola creates (kubelet puts the pod namespace here).</summary>
    public const string MetadataNamespace = "isola";

    /// <summary>The sandbox's spec as a PodSandboxConfig, packed the way containerd 2.x packs it.</summary>
    public static Any Pack(SandboxContext sandbox) => new()
    {
        TypeUrl = TypeUrls.PodSandboxConfig,
        Value = ToConfig(sandbox).ToByteString(),
    };

    /// <summary>Maps the spec onto the CRI fields sandboxers read (hostname, DNS, labels, cgroup parent, resources).</summary>
    public static PodSandboxConfig ToConfig(SandboxContext sandbox)
    {
        var spec = sandbox.Spec;
        var config = new PodSandboxConfig
        {
            Metadata = new PodSandboxMetadata { Name = sandbox.Name, Uid = sandbox.Id.Value, Namespace = MetadataNamespace },
            Hostname = string.IsNullOrEmpty(spec.Hostname) ? sandbox.Name : spec.Hostname,
            Labels = { Conversions.Copy(spec.Labels) },
            Annotations = { Conversions.Copy(spec.Annotations) },
            Linux = new LinuxPodSandboxConfig { CgroupParent = spec.CgroupParent ?? "" },
        };
        if (spec.Network == SandboxSpec.HostNetwork)
        {
            // The CRI way to say "share the host's network namespace" (kubelet's hostNetwork): an empty netns_path
            // alone means "no namespace given", which a sandboxer answers with a new, empty one.
            config.Linux.SecurityContext = new LinuxSandboxSecurityContext
            {
                NamespaceOptions = new NamespaceOption { Network = NamespaceMode.Node },
            };
        }
        if (spec.DnsServers.Count > 0)
        {
            config.DnsConfig = new DNSConfig { Servers = { spec.DnsServers } };
        }

        if (spec.Resources is { } r)
        {
            config.Linux.Resources = new LinuxContainerResources
            {
                CpuPeriod = (long)(r.CpuPeriod ?? 0),
                CpuQuota = r.CpuQuota ?? 0,
                CpuShares = (long)(r.CpuShares ?? 0),
                MemoryLimitInBytes = r.MemoryLimitBytes ?? 0,
                CpusetCpus = r.CpusetCpus ?? "",
            };
        }

        return config;
    }

    /// <summary>The network namespace to hand over: only an existing one the caller named by path. An empty path
    /// leaves networking to the sandboxer (Kuasar then configures no interfaces); the host's network travels in the
    /// config's namespace options instead (see <see cref="ToConfig"/>).</summary>
    public static string NetnsPath(SandboxSpec spec) =>
        spec.Network is { } network && network.StartsWith('/') ? network : "";
}
