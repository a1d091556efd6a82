using Google.Protobuf;
using Isola.SandboxApi;
using Isola.SandboxApi.Cri;
using Isola.SandboxApi.V1;

namespace Isola.Server.Services;

/// <summary>Turns a Sandbox API Create into the <see cref="SandboxSpec"/> Isola's own runtimes take.</summary>
internal static class SandboxSpecMapper
{
    public static SandboxSpec ToSpec(ControllerCreateRequest request, string? defaultRuntime)
    {
        var config = DecodeConfig(request);
        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        Merge(labels, config?.Labels);
        Merge(labels, request.Sandbox?.Labels);
        var annotations = new Dictionary<string, string>(StringComparer.Ordinal);
        Merge(annotations, config?.Annotations);
        Merge(annotations, request.Annotations);
        return new SandboxSpec
        {
            Id = request.SandboxId,
            Runtime = string.IsNullOrEmpty(request.Sandboxer) ? defaultRuntime : request.Sandboxer,
            Hostname = string.IsNullOrEmpty(config?.Hostname) ? null : config.Hostname,
            Network = NetworkOf(request, config),
            CgroupParent = string.IsNullOrEmpty(config?.Linux?.CgroupParent) ? null : config.Linux.CgroupParent,
            Resources = ToResources(config?.Linux?.Resources),
            DnsServers = config?.DnsConfig?.Servers.ToList() ?? [],
            Labels = labels,
            Annotations = annotations,
        };
    }

    /// <summary>containerd 2.x sends type url "runtime.v1.PodSandboxConfig", iSulad an empty one; both are decoded.</summary>
    private static PodSandboxConfig? DecodeConfig(ControllerCreateRequest request)
    {
        var options = request.Options;
        if (options is null || options.Value.IsEmpty)
        {
            return null;
        }

        if (options.TypeUrl.Length > 0 && !options.TypeUrl.EndsWith(TypeUrls.PodSandboxConfig, StringComparison.Ordinal))
        {
            throw RpcStatus.InvalidArgument(
                $"sandbox '{request.SandboxId}': options of type '{options.TypeUrl}' are not a {TypeUrls.PodSandboxConfig}");
        }

        try
        {
            return PodSandboxConfig.Parser.ParseFrom(options.Value);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw RpcStatus.InvalidArgument($"sandbox '{request.SandboxId}': options are not a {TypeUrls.PodSandboxConfig}: {e.Message}");
        }
    }

    /// <summary>A netns path joins that namespace; NODE network mode (kubelet's hostNetwork, the sandboxer plugin's
    /// encoding of "host") shares the host's; neither gives the pod a new one. Both at once contradict each other.</summary>
    private static string? NetworkOf(ControllerCreateRequest request, PodSandboxConfig? config)
    {
        var hostNetwork = config?.Linux?.SecurityContext?.NamespaceOptions?.Network == NamespaceMode.Node;
        if (string.IsNullOrEmpty(request.NetnsPath))
        {
            return hostNetwork ? SandboxSpec.HostNetwork : null;
        }

        return hostNetwork
            ? throw RpcStatus.InvalidArgument(
                $"sandbox '{request.SandboxId}': netns_path '{request.NetnsPath}' given with the host network (namespace mode NODE); use one or the other")
            : request.NetnsPath;
    }

    private static LinuxResources? ToResources(LinuxContainerResources? r) => r is null ? null : new LinuxResources
    {
        CpuPeriod = r.CpuPeriod > 0 ? (ulong)r.CpuPeriod : null,
        CpuQuota = r.CpuQuota != 0 ? r.CpuQuota : null,
        CpuShares = r.CpuShares > 0 ? (ulong)r.CpuShares : null,
        MemoryLimitBytes = r.MemoryLimitInBytes > 0 ? r.MemoryLimitInBytes : null,
        CpusetCpus = string.IsNullOrEmpty(r.CpusetCpus) ? null : r.CpusetCpus,
    };

    private static void Merge(Dictionary<string, string> into, IDictionary<string, string>? from)
    {
        if (from is null)
        {
            return;
        }

        foreach (var (k, v) in from)
        {
            into[k] = v;
        }
    }
}
