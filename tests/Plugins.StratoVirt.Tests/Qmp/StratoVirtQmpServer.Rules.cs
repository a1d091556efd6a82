using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Isola.Plugins.StratoVirt.Tests.Qmp;

/// <summary>StratoVirt's rules, enforced on every read before a command runs: one JSON value per read, string ids,
/// only the keys its schema declares, the rate limit, and no command while another is still being processed.</summary>
internal sealed partial class StratoVirtQmpServer
{
    private static readonly Dictionary<string, HashSet<string>?> ArgumentKeys = new()
    {
        ["qmp_capabilities"] = [],
        ["query-status"] = [],
        ["query-cpus"] = [],
        ["stop"] = [],
        ["cont"] = [],
        ["quit"] = [],
        ["system_powerdown"] = [],
        ["blockdev-add"] = ["node-name", "file", "driver", "read-only", "cache", "media", "detect-zeroes", "discard",
            "throttling.iops-total", "l2-cache-size", "refcount-cache-size", "backing", "id", "options"],
        ["blockdev-del"] = ["node-name"],
        ["device_add"] = ["id", "driver", "addr", "bus", "drive", "netdev", "mac", "chardev", "mq", "vectors", "serial",
            "iothread", "multifunction", "num-queues", "queue-size", "host", "sysfsdev", "romfile", "share-rw", "disable-modern", "bootindex"],
        ["device_del"] = ["id"],
        ["netdev_add"] = ["id", "ifname", "fd", "fds", "type", "vhost", "vhostfd", "vhostfds", "queues", "chardev", "macnat", "script", "downscript"],
        ["netdev_del"] = ["id"],
    };

    private static readonly HashSet<string> FileKeys = ["driver", "filename", "aio"];
    private static readonly HashSet<string> CacheKeys = ["direct", "no-flush"];

    /// <summary>Handles one read; false when the server should exit (quit).</summary>
    private async Task<bool> HandleAsync(Socket client, ReadOnlyMemory<byte> data)
    {
        JsonObject request;
        try
        {
            // The whole read must be exactly one JSON value (StratoVirt parses the buffer with serde_json::from_slice).
            var reader = new Utf8JsonReader(data.Span);
            var node = JsonNode.Parse(ref reader);
            if (Encoding.UTF8.GetString(data.Span[(int)reader.BytesConsumed..]).Trim().Length > 0)
            {
                await ViolationAsync(client, "more than one JSON value in one read (pipelined commands)");
                return true;
            }

            request = node as JsonObject ?? throw new JsonException("not an object");
        }
        catch (JsonException e)
        {
            await ViolationAsync(client, "unparsable request: " + e.Message);
            return true;
        }

        foreach (var key in request.Select(p => p.Key))
        {
            if (key is not ("execute" or "arguments" or "id"))
            {
                await ViolationAsync(client, $"unknown request key '{key}'");
                return true;
            }
        }

        if (request["id"] is { } idNode && idNode.GetValueKind() != JsonValueKind.String)
        {
            await ViolationAsync(client, "id is not a string");
            return true;
        }

        var id = request["id"]?.GetValue<string>();
        var command = request["execute"]?.GetValue<string>() ?? "";
        var args = request["arguments"] as JsonObject ?? [];
        if (!ArgumentKeys.TryGetValue(command, out var allowed))
        {
            await ReplyAsync(client, id, error: ("CommandNotFound", $"The command {command} has not been found"));
            return true;
        }

        if (args.Select(p => p.Key).FirstOrDefault(k => !allowed!.Contains(k)) is { } unknown)
        {
            await ViolationAsync(client, $"{command}: unknown field '{unknown}'");
            return true;
        }

        if (command == "blockdev-add" && (!SubKeysOk(args["file"], FileKeys) || !SubKeysOk(args["cache"], CacheKeys)))
        {
            await ViolationAsync(client, "blockdev-add: unknown field in file or cache");
            return true;
        }

        if (!TakeToken())
        {
            Throttled++;
            await ReplyAsync(client, id, error: ("OperationThrottled", $"More than {MaxCommandsPerSecond} requests received during 1 second"));
            return true;
        }

        lock (Commands)
        {
            Commands.Add(request);
        }

        if (Unanswered.Contains(command))
        {
            return true;
        }

        if (ReplyDelays.TryGetValue(command, out var delay) && !await ProcessSlowlyAsync(client, command, delay))
        {
            return true;
        }

        return await ExecuteAsync(client, id, command, args);
    }

    /// <summary>Spends <paramref name="delay"/> "processing"; false when the client left meanwhile (nothing to answer).</summary>
    private async Task<bool> ProcessSlowlyAsync(Socket client, string command, TimeSpan delay)
    {
        var until = DateTime.UtcNow + delay;
        while (DateTime.UtcNow < until)
        {
            if (client.Available > 0)
            {
                lock (Violations)
                {
                    Violations.Add($"a command arrived while '{command}' was still being processed (pipelined)");
                }

                break;
            }

            if (client.Poll(0, SelectMode.SelectRead))
            {
                // Readable with nothing to read: the client closed its end.
                return false;
            }

            await Task.Delay(10, _stop.Token);
        }

        return true;
    }

    private bool TakeToken()
    {
        var now = DateTime.UtcNow;
        while (_window.Count > 0 && now - _window.Peek() > TimeSpan.FromSeconds(1))
        {
            _window.Dequeue();
        }

        if (_window.Count >= MaxCommandsPerSecond)
        {
            return false;
        }

        _window.Enqueue(now);
        return true;
    }

    private static bool SubKeysOk(JsonNode? node, HashSet<string> keys) =>
        node is not JsonObject o || o.All(p => keys.Contains(p.Key));

    private async Task ViolationAsync(Socket client, string what)
    {
        lock (Violations)
        {
            Violations.Add(what);
        }

        // StratoVirt answers a request it cannot parse with a GenericError and no id.
        await ReplyAsync(client, null, error: ("GenericError", what));
    }
}
