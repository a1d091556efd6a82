using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Isola.Hosting.State;
using Microsoft.Extensions.Logging;

namespace Isola.Hosting.Networks;


/// <summary>What <see cref="PodNetworks"/> keeps per pod, in <c>networks/ID.json</c> under the state root: enough to
/// undo it exactly (the network configuration as it was, the ADD result) after a crash or a config change.</summary>
internal sealed record PodNetworkRecord(SandboxId SandboxId, string Namespace, string NetworkConfig, IReadOnlyList<PortMapping> Ports, JsonObject? Result)
{
    /// <summary>The pod's addresses, without prefix length.</summary>
    public IReadOnlyList<string> Addresses =>
        Result?["ips"] is JsonArray ips
            ? [.. ips.Select(ip => ip?["address"]?.GetValue<string>()).OfType<string>().Select(a => a.Split('/')[0])]
            : [];
}

/// <summary>
/// Pod networks: a named network namespace per pod, wired by a CNI plugin chain. The record is written before
/// anything is made and deleted after everything is undone, so a crash at any point leaves a record that
/// <see cref="TearDownAsync"/> (idempotent, as CNI DEL is) finishes.
/// </summary>
internal sealed class PodNetworks
{
    public const string InterfaceName = "eth0";
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };
    private readonly string _records;
    private readonly NetworkSettings _settings;
    private readonly CniRunner _cni;
    private readonly ILogger _logger;
    private readonly string _rootTag;

    public PodNetworks(string stateRoot, NetworkSettings settings, ILogger logger)
    {
        _records = Path.Combine(stateRoot, "networks");
        _rootTag = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(Path.GetFullPath(stateRoot))))[..8];
        _settings = settings;
        _cni = new CniRunner(settings.PluginDirs);
        _logger = logger;
    }

    /// <summary>The pod's namespace name: the sandbox id, prefixed with a short hash of the state root, so two state
    /// roots on one machine (two hosts, or tests) never share a namespace.</summary>
    public string NamespaceName(SandboxId sandboxId) => $"isola-{_rootTag}-{sandboxId.Value}";

    /// <summary>The CNI network a <see cref="SandboxSpec.Network"/> value asks for: "" for the default one (<c>pod</c>),
    /// the name after <c>pod:</c>, or null when it asks for no pod network.</summary>
    public static string? Requested(string? network) =>
        network == SandboxSpec.PodNetwork ? "" : network?.StartsWith(SandboxSpec.PodNetwork + ":", StringComparison.Ordinal) == true ? network[4..] : null;

    /// <summary>The public view of a record.</summary>
    public static SandboxNetwork Describe(PodNetworkRecord record) => new()
    {
        Name = CniNetwork.Parse(record.NetworkConfig, "record").Name,
        Namespace = NetworkNamespace.PathOf(record.Namespace),
        Addresses = record.Addresses,
        Ports = record.Ports,
    };

    /// <summary>Makes <paramref name="sandboxId"/>'s namespace and runs CNI ADD of <paramref name="networkName"/> (the
    /// default network when null). On failure everything made so far is undone before the error is thrown.</summary>
    public async Task<PodNetworkRecord> SetUpAsync(SandboxId sandboxId, string? networkName, IReadOnlyList<PortMapping> ports, CancellationToken cancellationToken)
    {
        var network = Resolve(string.IsNullOrEmpty(networkName) ? null : networkName);
        if (Read(sandboxId) is not null)
        {
            // Left by a crash this host never saw through: undo it before wiring again.
            await TearDownAsync(sandboxId, cancellationToken).ConfigureAwait(false);
        }

        var record = new PodNetworkRecord(sandboxId, NamespaceName(sandboxId), RawConfig(network), ports, null);
        Write(record);
        try
        {
            await NetworkNamespace.CreateAsync(record.Namespace, cancellationToken).ConfigureAwait(false);
            var result = await _cni.AddAsync(network, sandboxId.Value, NetworkNamespace.PathOf(record.Namespace), InterfaceName, RuntimeConfig(ports), cancellationToken).ConfigureAwait(false);
            record = record with { Result = result };
            Write(record);
            _logger.LogInformation("sandbox {Id}: network {Network}, addresses {Addresses}", sandboxId, network.Name, string.Join(", ", record.Addresses));
            return record;
        }
        catch (Exception added)
        {
            await UndoFailedSetUpAsync(record, network, added).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>After a failed ADD: DEL through the chain (each plugin releases what it made), then the namespace and
    /// the record, even when DEL fails too (a plugin that is missing or misconfigured made nothing to release). The
    /// ADD error is the one the caller sees.</summary>
    private async Task UndoFailedSetUpAsync(PodNetworkRecord record, CniNetwork network, Exception added)
    {
        try
        {
            var netns = NetworkNamespace.Exists(record.Namespace) ? NetworkNamespace.PathOf(record.Namespace) : "";
            await _cni.DelAsync(network, record.SandboxId.Value, netns, InterfaceName, RuntimeConfig(record.Ports), record.Result, CancellationToken.None).ConfigureAwait(false);
        }
        catch (IsolaException e)
        {
            _logger.LogWarning("sandbox {Id}: CNI DEL after a failed ADD ({Added}) also failed: {Error}", record.SandboxId, added.Message, e.Message);
        }

        await NetworkNamespace.DeleteAsync(record.Namespace, CancellationToken.None).ConfigureAwait(false);
        File.Delete(PathOf(record.SandboxId));
    }

    /// <summary>CNI DEL, then the namespace, then the record. Nothing to undo is not an error; a DEL that fails keeps
    /// the record, so a later call (or recovery) tries again.</summary>
    public async Task TearDownAsync(SandboxId sandboxId, CancellationToken cancellationToken)
    {
        var record = Read(sandboxId);
        if (record is null)
        {
            return;
        }

        var network = CniNetwork.Parse(record.NetworkConfig, $"{PathOf(sandboxId)} (as set up)");
        var netns = NetworkNamespace.Exists(record.Namespace) ? NetworkNamespace.PathOf(record.Namespace) : "";
        await _cni.DelAsync(network, sandboxId.Value, netns, InterfaceName, RuntimeConfig(record.Ports), record.Result, cancellationToken).ConfigureAwait(false);
        await NetworkNamespace.DeleteAsync(record.Namespace, cancellationToken).ConfigureAwait(false);
        File.Delete(PathOf(sandboxId));
        _logger.LogInformation("sandbox {Id}: network torn down", sandboxId);
    }

    public PodNetworkRecord? Read(SandboxId sandboxId)
    {
        var path = PathOf(sandboxId);
        if (!File.Exists(path))
        {
            return null;
        }

        try
        {
            return JsonSerializer.Deserialize<PodNetworkRecord>(File.ReadAllBytes(path), Json);
        }
        catch (JsonException e)
        {
            throw IsolaException.Internal($"pod network record {path} is damaged ({e.Message})", e);
        }
    }

    /// <summary>Sandboxes with a network record (for recovery to match against the sandboxes that exist).</summary>
    public IReadOnlyList<SandboxId> RecordedSandboxes() =>
        Directory.Exists(_records)
            ? [.. Directory.EnumerateFiles(_records, "*.json").Select(Path.GetFileNameWithoutExtension)
                .Select(n => SandboxId.TryParse(n, out var id) ? id : (SandboxId?)null).OfType<SandboxId>()]
            : [];

    private CniNetwork Resolve(string? name)
    {
        name ??= _settings.DefaultNetwork;
        var configured = CniNetwork.Load(_settings.ConfigDir);
        if (configured.TryGetValue(name, out var network))
        {
            return network;
        }

        return name == CniNetwork.DefaultName
            ? CniNetwork.Default(Path.Combine(_records, "ipam"))
            : throw IsolaException.NotFound($"CNI network '{name}' is not configured (no conflist named so in {_settings.ConfigDir})");
    }

    private static string RawConfig(CniNetwork network) => new JsonObject
    {
        ["cniVersion"] = network.CniVersion,
        ["name"] = network.Name,
        ["plugins"] = new JsonArray([.. network.Plugins.Select(p => p.DeepClone())]),
    }.ToJsonString();

    private static JsonObject RuntimeConfig(IReadOnlyList<PortMapping> ports) => new()
    {
        ["portMappings"] = new JsonArray([.. ports.Select(p => (JsonNode)new JsonObject
        {
            ["hostPort"] = p.HostPort,
            ["containerPort"] = p.ContainerPort,
            ["protocol"] = p.Protocol,
            ["hostIP"] = p.HostIp,
        })]),
    };

    private void Write(PodNetworkRecord record)
    {
        UnixDirectories.CreateOwnerOnly(_records);
        var path = PathOf(record.SandboxId);
        var temp = path + ".tmp";
        File.WriteAllBytes(temp, JsonSerializer.SerializeToUtf8Bytes(record, Json));
        File.Move(temp, path, overwrite: true);
    }

    private string PathOf(SandboxId sandboxId) => Path.Combine(_records, sandboxId.Value + ".json");
}
