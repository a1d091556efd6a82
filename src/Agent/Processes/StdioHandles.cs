using Isola.Agent.Native;

namespace Isola.Agent.Processes;

/// <summary>
/// The three descriptors a container process starts with, opened from the Task API's stdio strings: `file:///path` or
/// an absolute path, or empty for /dev/null. Outputs are opened for appending and never truncated (the host may have
/// hard-linked the file and be reading it); stdin is read from a file or /dev/null, so a process reading it sees EOF
/// rather than hanging. The process writes straight into the files: nothing to drain, so logs are complete the moment
/// it exits.
/// </summary>
internal sealed class StdioHandles : IDisposable
{
    private const int OutputMode = 0x1a0; // 0640

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
    public static StdioHandles Open(string stdin, string stdout, string stderr, string owner, string? staged = null)
    {
        var handles = new StdioHandles(-1, -1, -1);
        try
        {
            handles.Stdin = OpenOne(stdin, LibC.O_RDONLY, owner, "stdin", staged);
            handles.Stdout = OpenOne(stdout, LibC.O_WRONLY | LibC.O_CREAT | LibC.O_APPEND, owner, "stdout", staged);
            handles.Stderr = OpenOne(stderr, LibC.O_WRONLY | LibC.O_CREAT | LibC.O_APPEND, owner, "stderr", staged);
            return handles;
        }
        catch
        {
            handles.Dispose();
            throw;
        }
    }

    /// <summary>The local path of a stdio string, or null for /dev/null.</summary>
    /// <exception cref="IsolaException">Not an absolute path or a file:// URL.</exception>
    public static string? LocalPath(string value, string owner, string stream)
    {
        if (string.IsNullOrEmpty(value))
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

    private static int OpenOne(string value, int flags, string owner, string stream, string? staged)
    {
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

    /// <summary>Closes the agent's copies; the process keeps its own.</summary>
    public void Dispose()
    {
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
