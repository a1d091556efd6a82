using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Isola.TaskApi.Protos.Streaming;
using Isola.TaskApi.Protos.Transfer;
using Isola.Ttrpc;
using Isola.Ttrpc.Client;

namespace Isola.Plugins.TaskApi;

/// <summary>
/// The host's end of a process's streamed stdio (containerd.services.streaming.v1, as Kuasar's guest agent serves it):
/// for each stdio string the task service sees as `...?streaming_id=ID`, a stream opened on the task connection before
/// the process is created, copying stdout and stderr into the host's files (appended, as the task service would) and
/// stdin from the host's file. Output is complete when the task service ends the stream, which it does once the
/// process's pipe is drained.
/// </summary>
internal sealed class StreamedStdio : IAsyncDisposable
{
    private const int ChunkSize = 32 * 1024;

    private readonly List<TtrpcClientStream> _streams;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _outputs = [];
    private readonly List<Task> _inputs = [];

    private StreamedStdio(List<TtrpcClientStream> streams) => _streams = streams;

    /// <summary>Completes when every streamed output has ended (or failed: a lost connection ends it too).</summary>
    public Task Outputs => Task.WhenAll(_outputs);

    /// <summary>Opens the streams <paramref name="task"/> names, copying to and from <paramref name="host"/>; null when
    /// it names none.</summary>
    public static async Task<StreamedStdio?> OpenAsync(TtrpcClient client, StdioSpec task, StdioSpec? host,
        string owner, CancellationToken cancellationToken)
    {
        var ids = (In: StdioStreaming.IdOf(task.Stdin), Out: StdioStreaming.IdOf(task.Stdout), Err: StdioStreaming.IdOf(task.Stderr));
        if (ids is { In: null, Out: null, Err: null })
        {
            return null;
        }

        if (host is null)
        {
            throw IsolaException.InvalidArgument($"{owner}: its stdio is streamed, but no host files were given to stream it to");
        }

        var relay = new StreamedStdio([]);
        try
        {
            if (ids.Out is { } stdout)
            {
                var stream = await relay.OpenOneAsync(client, stdout, owner, cancellationToken).ConfigureAwait(false);
                relay._outputs.Add(CopyOutAsync(stream, HostPath(host.Stdout)));
            }

            if (ids.Err is { } stderr)
            {
                var stream = await relay.OpenOneAsync(client, stderr, owner, cancellationToken).ConfigureAwait(false);
                relay._outputs.Add(CopyOutAsync(stream, HostPath(host.Stderr)));
            }

            if (ids.In is { } stdin)
            {
                var stream = await relay.OpenOneAsync(client, stdin, owner, cancellationToken).ConfigureAwait(false);
                relay._inputs.Add(CopyInAsync(stream, HostPath(host.Stdin), relay._stop.Token));
            }

            return relay;
        }
        catch (Exception e)
        {
            await relay.DisposeAsync().ConfigureAwait(false);
            if (e is TtrpcException t)
            {
                throw t.ToIsola();
            }

            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        foreach (var stream in _streams)
        {
            await stream.DisposeAsync().ConfigureAwait(false);
        }

        _stop.Dispose();
    }

    private async Task<TtrpcClientStream> OpenOneAsync(TtrpcClient client, string id, string owner, CancellationToken cancellationToken)
    {
        // No deadline: the stream lives as long as the process.
        var stream = await client.OpenStreamAsync(StdioStreaming.ServiceName, "Stream", ReadOnlyMemory<byte>.Empty, clientStreams: true,
            new TtrpcCallOptions { Timeout = Timeout.InfiniteTimeSpan }, cancellationToken).ConfigureAwait(false);
        _streams.Add(stream);
        await stream.SendAsync(new Any { TypeUrl = StdioStreaming.StreamInitTypeUrl, Value = new StreamInit { Id = id }.ToByteString() },
            cancellationToken).ConfigureAwait(false);
        if (await stream.ReadAsync(cancellationToken).ConfigureAwait(false) is null)
        {
            await stream.ResponseAsync(cancellationToken).ConfigureAwait(false); // the service's error, if it gave one
            throw IsolaException.Unavailable($"{owner}: the task service closed stdio stream '{id}' before acknowledging it");
        }

        return stream;
    }

    private static async Task CopyOutAsync(TtrpcClientStream stream, string? path)
    {
        await using var file = path is null ? null : new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite);
        try
        {
            while (await stream.ReadAsync().ConfigureAwait(false) is { } frame)
            {
                var any = Any.Parser.ParseFrom(frame.Span);
                if (file is not null && any.TypeUrl.EndsWith(StdioStreaming.DataTypeUrl, StringComparison.Ordinal))
                {
                    await file.WriteAsync(Data.Parser.ParseFrom(any.Value).Data_.Memory).ConfigureAwait(false);
                    await file.FlushAsync().ConfigureAwait(false);
                }
            }
        }
        catch (Exception e) when (e is TtrpcException or InvalidProtocolBufferException or ObjectDisposedException)
        {
            // The connection was lost or the stream dropped: the agent holds what was not sent for the next host.
        }
    }

    private static async Task CopyInAsync(TtrpcClientStream stream, string? path, CancellationToken stopping)
    {
        try
        {
            // A FIFO's open blocks until a writer comes: not on a caller's thread.
            await using var file = path is null ? null : await Task.Run(() => File.OpenRead(path), stopping).ConfigureAwait(false);
            var buffer = new byte[ChunkSize];
            long window = 0;
            while (true)
            {
                while (window <= 0)
                {
                    if (await stream.ReadAsync(stopping).ConfigureAwait(false) is not { } frame)
                    {
                        return; // the process no longer reads its stdin
                    }

                    var any = Any.Parser.ParseFrom(frame.Span);
                    if (any.TypeUrl.EndsWith(StdioStreaming.WindowUpdateTypeUrl, StringComparison.Ordinal))
                    {
                        window += WindowUpdate.Parser.ParseFrom(any.Value).Update;
                    }
                }

                var n = file is null ? 0 : await file.ReadAsync(buffer.AsMemory(0, (int)Math.Min(window, buffer.Length)), stopping).ConfigureAwait(false);
                if (n == 0)
                {
                    await stream.CloseSendAsync(stopping).ConfigureAwait(false);
                    return;
                }

                await stream.SendAsync(new Any { TypeUrl = StdioStreaming.DataTypeUrl, Value = new Data { Data_ = ByteString.CopyFrom(buffer, 0, n) }.ToByteString() },
                    stopping).ConfigureAwait(false);
                window -= n;
            }
        }
        catch (Exception e) when (e is TtrpcException or IOException or OperationCanceledException or InvalidProtocolBufferException or UnauthorizedAccessException)
        {
            // Stdin stops with the connection, the relay, or an unreadable file; the process sees no more input.
        }
    }

    private static string? HostPath(string value) =>
        value.Length == 0 ? null : value.StartsWith("file://", StringComparison.Ordinal) ? new Uri(value).LocalPath : value;
}
