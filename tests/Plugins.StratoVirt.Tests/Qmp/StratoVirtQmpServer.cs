using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Isola.Plugins.StratoVirt.Tests.Qmp;

/// <summary>
/// A QMP server that behaves like StratoVirt's (reference/stratovirt.md §2), for the peer that cannot run here. It
/// ENFORCES StratoVirt's rules and answers a violation the way StratoVirt does (GenericError, no id), recording it:
/// every read must hold exactly one JSON value of at most 8 KiB (no pipelining), ids must be strings, requests and
/// argument objects may hold only the keys StratoVirt's schema declares (deny_unknown_fields), qmp_capabilities
/// takes no arguments and its reply carries no id, more than <see cref="MaxCommandsPerSecond"/> commands a second
/// are answered OperationThrottled, and events a command causes are sent after its reply.
/// </summary>
internal sealed class StratoVirtQmpServer : IAsyncDisposable
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

    private readonly Socket _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private readonly HashSet<string> _rootPorts;
    private readonly Dictionary<string, string> _portOccupant = [];
    private readonly HashSet<string> _nodes = [];
    private readonly Queue<DateTime> _window = new();
    private readonly bool _microvm;
    private Socket? _client;

    /// <summary>A standard machine with these root ports, or (<paramref name="microvm"/>) a microvm with StratoVirt's four
    /// replaceable virtio-blk-mmio slots, where the device id must equal the node name and blockdev-del is unsupported.</summary>
    public StratoVirtQmpServer(string path, IEnumerable<string> rootPorts, bool microvm = false)
    {
        Path = path;
        _microvm = microvm;
        _rootPorts = [.. rootPorts];
        _listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        _listener.Bind(new UnixDomainSocketEndPoint(path));
        _listener.Listen(1);
        _loop = Task.Run(AcceptLoopAsync);
    }

    public string Path { get; }

    /// <summary>StratoVirt's leaky bucket allows 100 commands per second.</summary>
    public int MaxCommandsPerSecond { get; set; } = 100;

    /// <summary>Commands the "VMM" takes this long to process before replying. StratoVirt handles one command at a
    /// time, so a command that arrives meanwhile is a violation (pipelining); a client that disconnects ends the wait.</summary>
    public Dictionary<string, TimeSpan> ReplyDelays { get; } = [];

    /// <summary>How many clients have connected.</summary>
    public int Connections { get; private set; }

    /// <summary>Commands that get no reply at all (a hung VMM).</summary>
    public HashSet<string> Unanswered { get; } = [];

    /// <summary>How long the "guest" takes to acknowledge device_del.</summary>
    public TimeSpan UnplugAckDelay { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Rule violations seen (each also answered with an error, as StratoVirt would).</summary>
    public List<string> Violations { get; } = [];

    /// <summary>Commands received and accepted, in order.</summary>
    public List<JsonObject> Commands { get; } = [];

    /// <summary>How many commands were answered OperationThrottled.</summary>
    public int Throttled { get; private set; }

    /// <summary>Drops the connection, as a crashing VMM would.</summary>
    public void Crash() => _client?.Dispose();

    private async Task AcceptLoopAsync()
    {
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                // StratoVirt serves one client at a time; a new accept replaces the old stream.
                _client = await _listener.AcceptAsync(_stop.Token);
                Connections++;
                await ServeAsync(_client);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
        {
        }
    }

    private async Task ServeAsync(Socket client)
    {
        await SendAsync(client, new JsonObject
        {
            ["QMP"] = new JsonObject
            {
                ["version"] = new JsonObject { ["qemu"] = new JsonObject { ["micro"] = 1, ["minor"] = 0, ["major"] = 5 }, ["package"] = "StratoVirt-2.4.0" },
                ["capabilities"] = new JsonArray(),
            },
        });
        var buffer = new byte[8192];
        try
        {
            while (true)
            {
                var n = await client.ReceiveAsync(buffer, SocketFlags.None, _stop.Token);
                if (n == 0)
                {
                    return;
                }

                if (n == buffer.Length)
                {
                    await ViolationAsync(client, "a read exceeded 8192 bytes");
                    continue;
                }

                if (!await HandleAsync(client, buffer.AsMemory(0, n)))
                {
                    client.Dispose();
                    return;
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
        {
        }
    }

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

        switch (command)
        {
            case "qmp_capabilities":
                // StratoVirt does not echo the id for qmp_capabilities.
                await ReplyAsync(client, null);
                break;
            case "query-status":
                await ReplyAsync(client, id, new JsonObject { ["running"] = true, ["singlestep"] = false, ["status"] = "running" });
                break;
            case "stop":
                await ReplyAsync(client, id);
                await EventAsync(client, "STOP", null);
                break;
            case "cont":
                await ReplyAsync(client, id);
                await EventAsync(client, "RESUME", null);
                break;
            case "query-cpus":
                await ReplyAsync(client, id, null, null, new JsonArray(new JsonObject
                {
                    ["CPU"] = 0, ["current"] = true, ["halted"] = false, ["qom_path"] = "/machine/unattached/device[0]", ["arch"] = "x86", ["thread_id"] = 4242,
                }));
                break;
            case "blockdev-add":
                _nodes.Add(args["node-name"]!.GetValue<string>());
                await ReplyAsync(client, id);
                break;
            case "blockdev-del" when _microvm:
                await ReplyAsync(client, id, error: ("GenericError", "blockdev-del not support yet for microvm"));
                break;
            case "blockdev-del":
                await (_nodes.Remove(args["node-name"]?.GetValue<string>() ?? "")
                    ? ReplyAsync(client, id)
                    : ReplyAsync(client, id, error: ("GenericError", "node not found")));
                break;
            case "device_add":
                await DeviceAddAsync(client, id, args);
                break;
            case "device_del":
                await DeviceDelAsync(client, id, args["id"]?.GetValue<string>() ?? "");
                break;
            case "quit":
                await ReplyAsync(client, id);
                await EventAsync(client, "SHUTDOWN", new JsonObject { ["guest"] = false, ["reason"] = "host-qmp-quit" });
                return false;
            default:
                await ReplyAsync(client, id);
                break;
        }

        return true;
    }

    private async Task DeviceAddAsync(Socket client, string? id, JsonObject args)
    {
        if (_microvm)
        {
            await MicrovmDeviceAddAsync(client, id, args);
            return;
        }

        var bus = args["bus"]?.GetValue<string>();
        var dev = args["id"]?.GetValue<string>();
        var drive = args["drive"]?.GetValue<string>();
        if (dev is null || bus is null || !_rootPorts.Contains(bus) || args["addr"]?.GetValue<string>() != "0x0")
        {
            await ReplyAsync(client, id, error: ("GenericError", "hot-plug needs id and a root port bus with addr 0x0"));
        }
        else if (_portOccupant.ContainsKey(bus))
        {
            await ReplyAsync(client, id, error: ("GenericError", "Guest is still on the fly of another (un)plugging"));
        }
        else if (drive is not null && !_nodes.Contains(drive))
        {
            await ReplyAsync(client, id, error: ("GenericError", $"drive {drive} not found"));
        }
        else
        {
            _portOccupant[bus] = dev;
            await ReplyAsync(client, id);
        }
    }

    private async Task MicrovmDeviceAddAsync(Socket client, string? id, JsonObject args)
    {
        var addr = args["addr"]?.GetValue<string>() ?? "";
        var dev = args["id"]?.GetValue<string>();
        if (args.ContainsKey("bus") || args["driver"]?.GetValue<string>() != "virtio-blk-mmio" || addr is not ("0x0" or "0x1" or "0x2" or "0x3"))
        {
            await ReplyAsync(client, id, error: ("GenericError", "microvm hot-plug needs driver virtio-blk-mmio, addr 0x0-0x3 and no bus"));
        }
        else if (args["drive"]?.GetValue<string>() is not { } drive || drive != dev || !_nodes.Contains(drive))
        {
            await ReplyAsync(client, id, error: ("GenericError", "microvm: the device id must equal an added node-name"));
        }
        else if (_portOccupant.ContainsKey(addr))
        {
            await ReplyAsync(client, id, error: ("GenericError", $"slot {addr} is in use"));
        }
        else
        {
            _portOccupant[addr] = dev;
            await ReplyAsync(client, id);
        }
    }

    private async Task DeviceDelAsync(Socket client, string? id, string device)
    {
        var port = _portOccupant.FirstOrDefault(p => p.Value == device).Key;
        if (port is null)
        {
            await ReplyAsync(client, id, error: ("DeviceNotFound", $"Failed to find device {device}"));
            return;
        }

        // device_del returns at once; DEVICE_DELETED follows once the guest acks.
        await ReplyAsync(client, id);
        await Task.Delay(UnplugAckDelay);
        _portOccupant.Remove(port);
        await EventAsync(client, "DEVICE_DELETED", new JsonObject { ["device"] = device, ["path"] = device });
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

    private static Task ReplyAsync(Socket client, string? id, JsonObject? result = null, (string Class, string Desc)? error = null, JsonArray? list = null)
    {
        var msg = error is { } e
            ? new JsonObject { ["error"] = new JsonObject { ["class"] = e.Class, ["desc"] = e.Desc } }
            : new JsonObject { ["return"] = list ?? (JsonNode)(result ?? []) };
        if (id is not null)
        {
            msg["id"] = id;
        }

        return SendAsync(client, msg);
    }

    private static Task EventAsync(Socket client, string name, JsonObject? data)
    {
        var now = DateTimeOffset.UtcNow;
        var msg = new JsonObject
        {
            ["event"] = name,
            ["timestamp"] = new JsonObject { ["seconds"] = now.ToUnixTimeSeconds(), ["microseconds"] = now.Millisecond * 1000 },
        };
        if (data is not null)
        {
            msg["data"] = data;
        }

        return SendAsync(client, msg);
    }

    private static async Task SendAsync(Socket client, JsonObject msg) =>
        await client.SendAsync(Encoding.UTF8.GetBytes(msg.ToJsonString() + "\r\n"), SocketFlags.None);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _client?.Dispose();
        _listener.Dispose();
        await _loop;
        File.Delete(Path);
    }
}
