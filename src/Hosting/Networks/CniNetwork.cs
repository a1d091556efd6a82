using System.Text.Json;
using System.Text.Json.Nodes;

namespace Isola.Hosting.Networks;

/// <summary>
/// A CNI network configuration list (<c>.conflist</c>): a name, a CNI version and a chain of plugins. Isola ships
/// <see cref="Default"/> (bridge <c>isola0</c>, host-local addresses from 10.89.0.0/16, portmap) and reads others from
/// its configuration directory.
/// </summary>
internal sealed record CniNetwork(string Name, string CniVersion, IReadOnlyList<JsonObject> Plugins, string Source)
{
    public const string DefaultName = "isola";

    /// <summary>The network <c>isola sandbox run --network pod</c> joins when no other is configured;
    /// <paramref name="dataDir"/> holds host-local's address leases (under the state root, so they go with it).</summary>
    public static CniNetwork Default(string dataDir) => Parse($$"""
        {
          "cniVersion": "1.0.0",
          "name": "{{DefaultName}}",
          "plugins": [
            {
              "type": "bridge",
              "bridge": "isola0",
              "isGateway": true,
              "ipMasq": true,
              "hairpinMode": true,
              "ipam": {
                "type": "host-local",
                "dataDir": {{JsonSerializer.Serialize(dataDir)}},
                "ranges": [[{ "subnet": "10.89.0.0/16" }]],
                "routes": [{ "dst": "0.0.0.0/0" }]
              }
            },
            { "type": "portmap", "capabilities": { "portMappings": true }, "snat": true }
          ]
        }
        """, "(built in)");

    /// <summary>Parses a conflist; every error names <paramref name="source"/>.</summary>
    public static CniNetwork Parse(string json, string source)
    {
        JsonObject root;
        try
        {
            root = JsonNode.Parse(json) as JsonObject ?? throw new JsonException("not an object");
        }
        catch (JsonException e)
        {
            throw IsolaException.InvalidArgument($"CNI network {source}: not valid JSON ({e.Message})");
        }

        var name = root["name"]?.GetValue<string>();
        if (string.IsNullOrWhiteSpace(name))
        {
            throw IsolaException.InvalidArgument($"CNI network {source}: no \"name\"");
        }

        var version = root["cniVersion"]?.GetValue<string>() ?? "1.0.0";
        // A .conf file is a single plugin at the top level.
        var plugins = (root["plugins"] as JsonArray)?.OfType<JsonObject>().ToList()
            ?? (root["type"] is not null ? new List<JsonObject> { root } : null)
            ?? throw IsolaException.InvalidArgument($"CNI network {source}: no \"plugins\"");
        foreach (var plugin in plugins)
        {
            var type = plugin["type"]?.GetValue<string>();
            if (string.IsNullOrEmpty(type) || type.Contains('/', StringComparison.Ordinal) || type.StartsWith('.'))
            {
                throw IsolaException.InvalidArgument($"CNI network {source}: plugin type '{type}' must be a plain program name");
            }
        }

        return new CniNetwork(name, version, plugins, source);
    }

    /// <summary>The networks in <paramref name="directory"/> (<c>*.conflist</c>, <c>*.conf</c>, <c>*.json</c>), by name.</summary>
    public static IReadOnlyDictionary<string, CniNetwork> Load(string directory)
    {
        var networks = new Dictionary<string, CniNetwork>(StringComparer.Ordinal);
        if (!System.IO.Directory.Exists(directory))
        {
            return networks;
        }

        foreach (var file in System.IO.Directory.EnumerateFiles(directory).Where(f => f.EndsWith(".conflist", StringComparison.Ordinal)
            || f.EndsWith(".conf", StringComparison.Ordinal) || f.EndsWith(".json", StringComparison.Ordinal)).Order(StringComparer.Ordinal))
        {
            var network = Parse(File.ReadAllText(file), file);
            networks.TryAdd(network.Name, network);
        }

        return networks;
    }
}
