using System.Net.Sockets;
using System.Text.Json.Nodes;

namespace Isola.Plugins.StratoVirt.Tests.Qmp;

/// <summary>What the StratoVirt double does with an accepted command: replies, the events that follow them, and
/// block hot-plug into root ports (standard machine) or replaceable MMIO slots (microvm).</summary>
internal sealed partial class StratoVirtQmpServer
{
    /// <summary>Runs an accepted command the way StratoVirt does; false when the server should exit (quit).</summary>
    private async Task<bool> ExecuteAsync(Socket client, string? id, string command, JsonObject args)
    {
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
}
