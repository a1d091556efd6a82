using Isola.Agent.Native;
using Isola.Agent.Streaming;
using Isola.TaskApi.Protos.Streaming;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;

namespace Isola.Agent.Processes;

/// <summary>
/// The three descriptors a container process starts with, opened from the Task API's stdio strings: `file:///path` or
/// an absolute path, or empty for /dev/null. Outputs are opened for appending and never truncated (the host may have
/// hard-linked the file and be reading it); stdin is read from a file or /dev/null, so a process reading it sees EOF
/// rather than hanging. The process writes straight into the files: nothing to drain, so logs are complete the moment
/// it exits. A stdio string carrying `streaming_id=ID` (a guest without a shared filesystem) gets a pipe instead, whose
/// other end a relay carries over the agent channel (<see cref="StdioStreams"/>).
/// </summary>
internal sealed class StdioHandles : IDisposable
{
    private const int OutputMode = 0x1a0; // 0640

    private readonly List<IDisposable> _relays = [];

    private StdioHandles(int stdin, int stdout, int stderr)
    {
        Stdin = stdin;
        Stdout = stdout;
        Stderr = stderr;
    }

    public int Stdin { get; private set; }

    public int Stdout { get; private set; }

    public int Stderr { get; private set; }

    /// <summary>Opens the three streams; <paramref name="owner"/> names the container or exec in errors.</summary>
    /// <param name="staged">The container's bundle. An engine outside the VM's host (a client of `isola serve`) names
    /// its own host files, which the guest cannot see; the sandbox's controller then staged a file of the same name in
    /// the bundle, the same inode as the host's, and that one is used for a path outside the bundle.</param>
    /// <exception cref="IsolaException">A path is not absolute, uses an unsupported scheme, or cannot be opened.</exception>
    /// <param name="streams">Where streamed stdio is relayed; null where none may be.</param>
    public static StdioHandles Open(string stdin, string stdout, string stderr, string owner, string? staged = null,
        StdioStreams? streams = null, ILogger? logger = null)
    {
        var handles = new StdioHandles(-1, -1, -1);
        try
        {
            handles.Stdin = handles.OpenOne(stdin, LibC.O_RDONLY, owner, "stdin", staged, streams, logger);
            handles.Stdout = handles.OpenOne(stdout, LibC.O_WRONLY | LibC.O_CREAT | LibC.O_APPEND, owner, "stdout", staged, streams, logger);
            handles.Stderr = handles.OpenOne(stderr, LibC.O_WRONLY | LibC.O_CREAT | LibC.O_APPEND, owner, "stderr", staged, streams, logger);
            return handles;
        }
        catch
        {
            handles.Dispose();
            throw;
        }
    }

    /// <summary>The relays of streamed stdio, handed over to the process that now owns them (so that disposing the
    /// handles no longer closes them).</summary>
    public IReadOnlyList<IDisposable> TakeRelays()
    {
        var relays = _relays.ToList();
        _relays.Clear();
        return relays;
    }

    /// <summary>The local path of a stdio string, or null for /dev/null or a stream.</summary>
    /// <exception cref="IsolaException">Not an absolute path or a file:// URL.</exception>
    public static string? LocalPath(string value, string owner, string stream)
    {
        if (string.IsNullOrEmpty(value) || StdioStreaming.IdOf(value) is not null)
        {
            return null;
        }

        var path = value;
        if (value.Contains("://", StringComparison.Ordinal))
        {
            if (!value.StartsWith("file://", StringComparison.Ordinal) || !Uri.TryCreate(value, UriKind.Absolute, out var uri))
            {
                throw IsolaException.InvalidArgument($"{owner}: {stream} '{value}' is not supported: use an absolute path or a file:// URL");
            }

            path = uri.LocalPath;
        }

        return path.StartsWith('/')
            ? path
            : throw IsolaException.InvalidArgument($"{owner}: {stream} '{value}' is not an absolute path");
    }

    private int OpenOne(string value, int flags, string owner, string stream, string? staged, StdioStreams? streams, ILogger? logger)
    {
        if (StdioStreaming.IdOf(value) is { } id)
        {
            return streams is null
                ? throw IsolaException.InvalidArgument($"{owner}: {stream} '{value}' is a stream, and streams are not served here")
                : OpenStream(streams.Claim(id, owner), stream == "stdin", logger ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
        }

        var path = LocalPath(value, owner, stream) ?? "/dev/null";
        if (staged is not null && !path.StartsWith(staged.TrimEnd('/') + "/", StringComparison.Ordinal)
            && Path.Combine(staged, Path.GetFileName(path)) is var twin && File.Exists(twin))
        {
            // Whether or not the guest happens to have the engine's directory (/tmp, say): the staged file is the one
            // the host reads.
            path = twin;
        }

        var fd = LibC.open(path, flags | LibC.O_CLOEXEC | LibC.O_NOCTTY, OutputMode);
        return fd >= 0 ? fd : throw IsolaException.InvalidArgument($"{owner}: cannot open {stream} {path}: {LibC.LastError()}");
    }

    /// <summary>A pipe for a streamed stdio: the process gets one end (returned), a relay the other.</summary>
    private unsafe int OpenStream(StreamSlot slot, bool input, ILogger logger)
    {
        var fds = stackalloc int[2];
        if (LibC.pipe2(fds, LibC.O_CLOEXEC) != 0)
        {
            slot.Close();
            throw IsolaException.Internal($"stdio stream '{slot.Id}': pipe2 failed: {LibC.LastError()}");
        }

        var (child, relayEnd) = input ? (fds[0], fds[1]) : (fds[1], fds[0]);
        var handle = new SafeFileHandle(relayEnd, ownsHandle: true);
        _relays.Add(input ? new InputRelay(slot, handle, logger) : new OutputRelay(slot, handle, logger));
        return child;
    }

    /// <summary>Closes the agent's copies; the process keeps its own. Relays not taken are closed too.</summary>
    public void Dispose()
    {
        foreach (var relay in _relays)
        {
            relay.Dispose();
        }

        _relays.Clear();
        foreach (var fd in new[] { Stdin, Stdout, Stderr })
        {
            if (fd >= 0)
            {
                LibC.close(fd);
            }
        }

        Stdin = Stdout = Stderr = -1;
    }
}
