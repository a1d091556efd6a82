using System.Collections.Concurrent;
using Google.Protobuf.WellKnownTypes;
using Isola.TaskApi.Protos.Streaming;
using Isola.Ttrpc.Server;
using Microsoft.Extensions.Logging;

namespace Isola.Agent.Streaming;

/// <summary>
/// containerd.services.streaming.v1.Streaming, as Kuasar's guest agent serves it for containerd's `io_type=streaming`:
/// a process whose stdio string carries `streaming_id=ID` has that stream relayed over the agent channel instead of
/// written to a file, for guests that share no filesystem with the host. The host opens a stream, sends
/// Any(StreamInit{id}), receives Any(Empty) as the ack, and then Data (stdout, stderr) or WindowUpdate/Data (stdin).
/// </summary>
internal sealed class StdioStreams(ILogger logger)
{
    private readonly ConcurrentDictionary<string, StreamSlot> _slots = new(StringComparer.Ordinal);

    public void Register(TtrpcServer server) => server.AddStreaming(StdioStreaming.ServiceName, "Stream", ServeAsync);

    /// <summary>Claims the slot of stream <paramref name="id"/> for a process's stdio.</summary>
    /// <exception cref="IsolaException">Another live process already uses that stream.</exception>
    public StreamSlot Claim(string id, string owner)
    {
        ValidateId(id);
        var slot = _slots.GetOrAdd(id, key => new StreamSlot(key));
        lock (slot)
        {
            if (slot.Claimed || slot.IsClosed)
            {
                throw IsolaException.AlreadyExists($"{owner}: stdio stream '{id}' is already in use");
            }

            slot.Claimed = true;
            slot.Released = () => Release(slot);
        }

        return slot;
    }

    /// <summary>A stream id is a container or exec id with a suffix (`ID-stdout`, `CID+EXEC-stderr`): letters, digits and
    /// `.`, `_`, `+`, `-`, at most 200 of them.</summary>
    public static string ValidateId(string id) =>
        id.Length is > 0 and <= 200 && id.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '+' or '-')
            ? id
            : throw IsolaException.InvalidArgument($"invalid stdio stream id '{id}': use 1-200 letters, digits, '.', '_', '+' or '-'");

    /// <summary>Forgets a slot whose process is gone (the relay closed it).</summary>
    public void Release(StreamSlot slot) => _slots.TryRemove(new KeyValuePair<string, StreamSlot>(slot.Id, slot));

    private async Task<ReadOnlyMemory<byte>> ServeAsync(TtrpcServerStream stream, TtrpcCallContext context)
    {
        var first = await stream.ReadAsync(context.CancellationToken).ConfigureAwait(false)
            ?? throw IsolaException.InvalidArgument("streaming: the stream closed before its StreamInit");
        var init = Any.Parser.ParseFrom(first.Span);
        if (!init.TypeUrl.EndsWith(StdioStreaming.StreamInitTypeUrl, StringComparison.Ordinal))
        {
            throw IsolaException.InvalidArgument($"streaming: the first message is a {init.TypeUrl}, not a StreamInit");
        }

        var id = ValidateId(StreamInit.Parser.ParseFrom(init.Value).Id);
        await stream.SendAsync(new Any { TypeUrl = StdioStreaming.EmptyTypeUrl }, context.CancellationToken).ConfigureAwait(false);
        var slot = _slots.GetOrAdd(id, key => new StreamSlot(key));
        logger.LogDebug("stream {Id}: a host attached", id);
        try
        {
            await slot.AttachAsync(stream, context.CancellationToken).ConfigureAwait(false);
        }
        finally
        {
            lock (slot)
            {
                if (!slot.Claimed && slot.Current is null)
                {
                    Release(slot); // opened for a process that never came
                }
            }
        }

        return ReadOnlyMemory<byte>.Empty;
    }
}
