using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;

namespace Isola.Plugins.StratoVirt.Qmp;

/// <summary>The reading side: newline-framed JSON from the VMM, dispatched as the greeting, events (to subscribers) or
/// replies (to the command they answer), and failing everything pending when the connection goes.</summary>
internal sealed partial class QmpClient
{
    private async Task ReadLoopAsync()
    {
        var buffer = new byte[8192];
        var line = new MemoryStream();
        string reason = "the VMM closed the socket";
        try
        {
            while (true)
            {
                var n = await _socket.ReceiveAsync(buffer, SocketFlags.None, _readerCts.Token).ConfigureAwait(false);
                if (n == 0)
                {
                    break;
                }

                var start = 0;
                for (var i = 0; i < n; i++)
                {
                    if (buffer[i] != (byte)'\n')
                    {
                        continue;
                    }

                    line.Write(buffer, start, i - start);
                    Dispatch(line.GetBuffer().AsSpan(0, (int)line.Length));
                    line.SetLength(0);
                    start = i + 1;
                }

                line.Write(buffer, start, n - start);
                if (line.Length > MaxLineBytes)
                {
                    reason = $"a message exceeded {MaxLineBytes} bytes";
                    break;
                }
            }
        }
        catch (OperationCanceledException)
        {
            reason = "the client was disposed";
        }
        catch (SocketException e)
        {
            reason = e.Message;
        }
        catch (Exception e)
        {
            reason = "protocol error: " + e.Message;
            _logger.LogWarning(e, "QMP reader on {Socket} failed", _socketPath);
        }

        Fail(reason);
    }

    private void Dispatch(ReadOnlySpan<byte> raw)
    {
        var text = Encoding.UTF8.GetString(raw).Trim();
        if (text.Length == 0)
        {
            return;
        }

        if (JsonNode.Parse(text) is not JsonObject msg)
        {
            throw new JsonException($"not a JSON object: {text}");
        }

        if (msg["QMP"] is JsonObject qmp)
        {
            _greeting.TrySetResult(ParseGreeting(qmp));
        }
        else if (msg["event"] is JsonValue name)
        {
            var ts = msg["timestamp"] as JsonObject;
            var seconds = ts?["seconds"]?.GetValue<long>() ?? 0;
            var micros = ts?["microseconds"]?.GetValue<long>() ?? 0;
            var ev = new QmpEvent(name.GetValue<string>(), msg["data"] as JsonObject,
                DateTimeOffset.FromUnixTimeSeconds(seconds).AddTicks(micros * 10));
            _logger.LogDebug("QMP event {Event} on {Socket}: {Data}", ev.Name, _socketPath, ev.Data?.ToJsonString());
            Action<QmpEvent>[] handlers;
            lock (_gate)
            {
                handlers = [.. _subscribers];
            }

            foreach (var h in handlers)
            {
                // A handler runs on the reader: its exception must not end the connection or starve the other handlers.
                try
                {
                    h(ev);
                }
                catch (Exception e)
                {
                    _logger.LogError(e, "QMP event {Event} handler on {Socket} failed", ev.Name, _socketPath);
                }
            }
        }
        else if (msg.ContainsKey("return") || msg.ContainsKey("error"))
        {
            CompleteReply(msg);
        }
        else
        {
            _logger.LogWarning("unexpected QMP message on {Socket}: {Message}", _socketPath, text);
        }
    }

    private void CompleteReply(JsonObject msg)
    {
        Outstanding? entry;
        lock (_gate)
        {
            var id = msg["id"] is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;
            entry = null;
            if (id is not null)
            {
                // Replies come in order: anything older than the matched command will never be answered.
                for (var node = _outstanding.First; node is not null; node = node.Next)
                {
                    if (node.Value.Id == id)
                    {
                        entry = node.Value;
                        while (_outstanding.First!.Value != entry)
                        {
                            _outstanding.First.Value.Reply.TrySetException(IsolaException.Internal($"QMP socket {_socketPath}: reply to '{_outstanding.First.Value.Command}' skipped"));
                            _outstanding.RemoveFirst();
                        }

                        _outstanding.RemoveFirst();
                        break;
                    }
                }
            }
            else if (_outstanding.First is { } first)
            {
                // No id (StratoVirt omits it for qmp_capabilities and parse errors): the oldest command is the one answered.
                entry = first.Value;
                _outstanding.RemoveFirst();
            }
        }

        if (entry is null)
        {
            _logger.LogWarning("QMP reply on {Socket} matches no command: {Reply}", _socketPath, msg.ToJsonString());
            return;
        }

        if (msg["error"] is JsonObject error)
        {
            entry.Reply.TrySetException(new QmpErrorException(entry.Command, _socketPath,
                error["class"]?.GetValue<string>() ?? "GenericError", error["desc"]?.GetValue<string>() ?? ""));
        }
        else
        {
            entry.Reply.TrySetResult(msg["return"]?.DeepClone());
        }
    }

    private static QmpGreeting ParseGreeting(JsonObject qmp)
    {
        var version = qmp["version"] as JsonObject;
        var qemu = version?["qemu"] as JsonObject;
        var caps = (qmp["capabilities"] as JsonArray)?.Select(c => c?.GetValue<string>() ?? "").ToArray() ?? [];
        return new QmpGreeting(qemu?["major"]?.GetValue<int>() ?? 0, qemu?["minor"]?.GetValue<int>() ?? 0,
            qemu?["micro"]?.GetValue<int>() ?? 0, version?["package"]?.GetValue<string>() ?? "", caps);
    }

    private void Fail(string reason)
    {
        Outstanding[] pending;
        lock (_gate)
        {
            if (_closed.Task.IsCompleted)
            {
                return;
            }

            _closeReason = reason;
            pending = [.. _outstanding];
            _outstanding.Clear();
        }

        foreach (var p in pending)
        {
            p.Reply.TrySetException(IsolaException.Unavailable($"QMP '{p.Command}' on {_socketPath}: connection lost ({reason})"));
        }

        _greeting.TrySetException(IsolaException.Unavailable($"QMP socket {_socketPath} closed before its greeting ({reason})"));
        _ = _greeting.Task.Exception;
        _closed.TrySetResult();
    }
}
