using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Isola.Hosting.State;
using Microsoft.Extensions.Logging;

namespace Isola.Hosting.Networks;

/// <summary>A port published from the host to a pod (CNI's <c>portMappings</c> runtime setting).</summary>
internal sealed record PodPort(int HostPort, int ContainerPort, string Protocol = "tcp", string HostIp = "");

/// <summary>What <see cref="PodNetworks"/> keeps per pod, in <c>networks/ID.json</c> under the state root: enough to
/// undo it exactly (the network configuration as it was, the ADD result) after a crash or a config change.</summary>
internal sealed record PodNetworkRecord(string SandboxId, string Namespace, string NetworkConfig, IReadOnlyList<PodPort> Ports, JsonObject? Result)
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

    public PodNetworks(string stateRoot, NetworkSettings settings, ILogger logger)
    {
        _records = Path.Combine(stateRoot, "networks");
        _settings = settings;
        _cni = new CniRunner(settings.PluginDirs);
        _logger = logger;
    }

    public static string NamespaceName(string sandboxId) => "isola-" + sandboxId;

    /// <summary>Makes <paramref name="sandboxId"/>'s namespace and runs CNI ADD of <paramref name="networkName"/> (the
    /// default network when null). On failure everything made so far is undone before the error is thrown.</summary>
    public async Task<PodNetworkRecord> SetUpAsync(string sandboxId, string? networkName, IReadOnlyList<PodPort> ports, CancellationToken cancellationToken)
    {
        var network = Resolve(networkName);
        var record = new PodNetworkRecord(sandboxId, NamespaceName(sandboxId), RawConfig(network), ports, null);
        Write(record);
        try
        {
            await NetworkNamespace.CreateAsync(record.Namespace, cancellationToken).ConfigureAwait(false);
            var result = await _cni.AddAsync(network, sandboxId, NetworkNamespace.PathOf(record.Namespace), InterfaceName, RuntimeConfig(ports), cancellationToken).ConfigureAwait(false);
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
            await _cni.DelAsync(network, record.SandboxId, netns, InterfaceName, RuntimeConfig(record.Ports), record.Result, CancellationToken.None).ConfigureAwait(false);
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
    public async Task TearDownAsync(string sandboxId, CancellationToken cancellationToken)
    {
        var record = Read(sandboxId);
        if (record is null)
        {
            return;
        }

        var network = CniNetwork.Parse(record.NetworkConfig, $"{PathOf(sandboxId)} (as set up)");
        var netns = NetworkNamespace.Exists(record.Namespace) ? NetworkNamespace.PathOf(record.Namespace) : "";
        await _cni.DelAsync(network, sandboxId, netns, InterfaceName, RuntimeConfig(record.Ports), record.Result, cancellationToken).ConfigureAwait(false);
        await NetworkNamespace.DeleteAsync(record.Namespace, cancellationToken).ConfigureAwait(false);
        File.Delete(PathOf(sandboxId));
        _logger.LogInformation("sandbox {Id}: network torn down", sandboxId);
    }

    public PodNetworkRecord? Read(string sandboxId)
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
    public IReadOnlyList<string> RecordedSandboxes() =>
        Directory.Exists(_records) ? [.. Directory.EnumerateFiles(_records, "*.json").Select(Path.GetFileNameWithoutExtension).OfType<string>()] : [];

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

    private static JsonObject RuntimeConfig(IReadOnlyList<PodPort> ports) => new()
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

    private string PathOf(string sandboxId) => Path.Combine(_records, sandboxId + ".json");

    /// <summary>Checks a published port as <c>--publish</c> gives it.</summary>
    public static PodPort ParsePort(string text)
    {
        // [HOSTIP:]HOSTPORT:PORT[/PROTO]
        var proto = "tcp";
        var slash = text.LastIndexOf('/');
        var body = text;
        if (slash >= 0)
        {
            proto = text[(slash + 1)..];
            body = text[..slash];
        }

        var parts = body.Split(':');
        if (parts.Length is not (2 or 3))
        {
            parts = ["", "", ""];
        }

        var ok = proto is "tcp" or "udp" or "sctp";
        var hostIp = parts.Length == 3 ? parts[0] : "";
        ok &= hostIp == "" || IPAddress.TryParse(hostIp, out _);
        ok &= int.TryParse(parts[^2], out var hostPort) && hostPort is > 0 and < 65536;
        ok &= int.TryParse(parts[^1], out var port) && port is > 0 and < 65536;
        return ok ? new PodPort(hostPort, port, proto, hostIp)
            : throw IsolaException.InvalidArgument($"published port '{text}': use [HOSTIP:]HOSTPORT:PORT[/tcp|udp|sctp] with ports 1-65535");
    }
}
