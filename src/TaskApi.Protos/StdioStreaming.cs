namespace Isola.TaskApi.Protos.Streaming;

/// <summary>
/// What the host and the guest agent must agree on for stdio streamed over the agent channel
/// (containerd.services.streaming.v1, as containerd's `io_type=streaming` and Kuasar's agent use it): the service, the
/// type urls of the Any messages, and the `streaming_id=` in a stdio string.
/// </summary>
public static class StdioStreaming
{
    /// <summary>The ttrpc service; its one method is <c>Stream</c>.</summary>
    public const string ServiceName = "containerd.services.streaming.v1.Streaming";

    /// <summary>The first message of a stream, naming it.</summary>
    public const string StreamInitTypeUrl = "containerd.services.streaming.v1.StreamInit";

    /// <summary>The agent's acknowledgement of a StreamInit.</summary>
    public const string EmptyTypeUrl = "google.protobuf.Empty";

    /// <summary>A chunk of the stream's bytes.</summary>
    public const string DataTypeUrl = "containerd.types.transfer.Data";

    /// <summary>More bytes the receiver of stdin accepts.</summary>
    public const string WindowUpdateTypeUrl = "containerd.types.transfer.WindowUpdate";

    private const string IdKey = "streaming_id=";

    /// <summary>The stdio string naming stream <paramref name="id"/> on the task service at <paramref name="taskAddress"/>.</summary>
    public static string Url(string taskAddress, string id) => $"{taskAddress}?{IdKey}{id}";

    /// <summary>The stream id in a stdio string (`...?streaming_id=ID`), or null when it names a file.</summary>
    public static string? IdOf(string stdio)
    {
        var at = stdio.IndexOf(IdKey, StringComparison.Ordinal);
        if (at < 0)
        {
            return null;
        }

        var value = stdio[(at + IdKey.Length)..];
        var end = value.IndexOf('&', StringComparison.Ordinal);
        return end < 0 ? value : value[..end];
    }
}
