using Isola.TaskApi.Protos.Streaming;

namespace Isola.Plugins.StratoVirt.Controller;

/// <summary>
/// A process's stdio in a VM sandbox without a shared filesystem: each stream the host asked for becomes
/// `TASK-ADDRESS?streaming_id=ID`, which the task-api executor relays over the agent channel (containerd's
/// `io_type=streaming`, as Kuasar's guest agent serves it) between the host's files and the process's pipes.
/// </summary>
internal static class StreamedStdio
{
    /// <summary>The stdio the guest agent is handed; ids are `CID-stdout` for a container and `CID+EXEC-stdout` for an
    /// exec (`+` is in no id, so no two processes share a stream).</summary>
    public static StdioSpec Translate(string taskAddress, string containerId, string? execId, StdioSpec stdio)
    {
        var process = execId is null ? containerId : containerId + "+" + execId;
        return new StdioSpec(
            Stream(taskAddress, process, "stdin", stdio.Stdin),
            Stream(taskAddress, process, "stdout", stdio.Stdout),
            Stream(taskAddress, process, "stderr", stdio.Stderr));
    }

    private static string Stream(string taskAddress, string process, string name, string host) =>
        host.Length == 0 ? "" : StdioStreaming.Url(taskAddress, $"{process}-{name}");
}
