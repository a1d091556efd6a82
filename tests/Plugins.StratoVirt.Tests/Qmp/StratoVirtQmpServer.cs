using System.Net.Sockets;
using System.Text;
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
internal sealed partial class StratoVirtQmpServer : IAsyncDisposable
{
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
