using System.Globalization;
using System.Text.Json;
using Isola.Agent.Native;

namespace Isola.Agent.Processes;

/// <summary>
/// The runc command line, run with posix_spawn and reaped by the agent's <see cref="ChildReaper"/>. runc's own errors
/// are read from its JSON log (`--log`): for create and exec its stderr is the container's, so the log is the one place
/// they can be told apart. A failure becomes an <see cref="IsolaException"/> whose message is runc's last error line.
/// </summary>
internal sealed class Runc
{
    private static readonly string[] s_environment =
        ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C"];

    private readonly ChildReaper _reaper;

    public Runc(string binary, string root, bool noPivot, ChildReaper reaper)
    {
        Binary = binary;
        Root = root;
        NoPivot = noPivot;
        _reaper = reaper;
    }

    /// <summary>The runc binary (a full path).</summary>
    public string Binary { get; }

    /// <summary>runc's state root (--root).</summary>
    public string Root { get; }

    /// <summary>Whether create passes --no-pivot (needed when / is an initramfs rather than a tmpfs).</summary>
    public bool NoPivot { get; }

    /// <summary>True when runc has state for <paramref name="id"/>.</summary>
    public bool HasState(string id) => Directory.Exists(Path.Combine(Root, id));

    /// <summary>`runc create`: the container's init is created, stopped before the user process, with
    /// <paramref name="stdio"/> as its stdio.</summary>
    public Task CreateAsync(string id, string bundle, string pidFile, string logFile, StdioHandles stdio, CancellationToken cancellationToken)
    {
        List<string> args = ["create", "--bundle", bundle, "--pid-file", pidFile];
        if (NoPivot)
        {
            args.Add("--no-pivot");
        }

        args.Add(id);
        return RunAsync(args, logFile, stdio, cancellationToken);
    }

    /// <summary>`runc start`: the init (pid <paramref name="initPid"/>) runs the user process. Done through runc's exec
    /// fifo when it is there (see <see cref="ExecFifo"/>), else by running `runc start`.</summary>
    public Task StartAsync(string id, int initPid, string logFile, CancellationToken cancellationToken) =>
        ExecFifo.Find(Root, id) is { } fifo
            ? ExecFifo.StartAsync(fifo, initPid)
            : RunAsync(["start", id], logFile, null, cancellationToken);

    /// <summary>`runc exec --detach`: starts <paramref name="processFile"/> (an OCI Process) in the container.</summary>
    public Task ExecAsync(string id, string processFile, string pidFile, string logFile, StdioHandles stdio, CancellationToken cancellationToken) =>
        RunAsync(["exec", "--detach", "--pid-file", pidFile, "--process", processFile, id], logFile, stdio, cancellationToken);

    /// <summary>`runc kill [--all] id signal`.</summary>
    public Task KillAsync(string id, uint signal, bool all, string logFile, CancellationToken cancellationToken) =>
        RunAsync(all
            ? ["kill", "--all", id, signal.ToString(CultureInfo.InvariantCulture)]
            : ["kill", id, signal.ToString(CultureInfo.InvariantCulture)], logFile, null, cancellationToken);

    /// <summary>`runc delete [--force] id`.</summary>
    public Task DeleteAsync(string id, bool force, string logFile, CancellationToken cancellationToken) =>
        RunAsync(force ? ["delete", "--force", id] : ["delete", id], logFile, null, cancellationToken);

    /// <summary>`runc delete` of a container whose init the agent has reaped: done without runc when
    /// <see cref="StoppedContainer"/> can (no process of it is left then), else by running runc.</summary>
    public Task DeleteStoppedAsync(string id, string logFile, CancellationToken cancellationToken) =>
        StoppedContainer.TryDestroy(Root, id) ? Task.CompletedTask : DeleteAsync(id, force: false, logFile, cancellationToken);

    /// <summary>`runc update --resources FILE id`: applies OCI linux.resources JSON to the container's cgroup.</summary>
    public Task UpdateAsync(string id, string resourcesFile, string logFile, CancellationToken cancellationToken) =>
        RunAsync(["update", "--resources", resourcesFile, id], logFile, null, cancellationToken);

    /// <summary>`runc ps --format json`: the pids in the container's cgroup.</summary>
    public async Task<IReadOnlyList<uint>> PsAsync(string id, string logFile, CancellationToken cancellationToken)
    {
        var output = await RunAsync(["ps", "--format", "json", id], logFile, null, cancellationToken).ConfigureAwait(false);
        using var json = JsonDocument.Parse(string.IsNullOrWhiteSpace(output) ? "[]" : output);
        return json.RootElement.ValueKind == JsonValueKind.Array
            ? json.RootElement.EnumerateArray().Select(e => e.GetUInt32()).ToList()
            : [];
    }

    /// <summary>Runs runc with the global options; returns its stdout when <paramref name="stdio"/> is null (captured),
    /// else an empty string.</summary>
    private async Task<string> RunAsync(IReadOnlyList<string> args, string logFile, StdioHandles? stdio, CancellationToken cancellationToken)
    {
        List<string> argv = [Binary, "--root", Root, "--log", logFile, "--log-format", "json", .. args];
        var logStart = File.Exists(logFile) ? new FileInfo(logFile).Length : 0;

        using var stdout = stdio is null ? new Pipe() : null;
        using var stderr = stdio is null ? new Pipe() : null;
        var devNull = stdio is null ? LibC.open("/dev/null", LibC.O_RDWR | LibC.O_CLOEXEC, 0) : -1;
        Task<ProcessExit> exited;
        try
        {
            (_, exited) = _reaper.Start(() => ProcessSpawner.Spawn(Binary, argv, s_environment,
                stdio?.Stdin ?? devNull, stdio?.Stdout ?? stdout!.WriteFd, stdio?.Stderr ?? stderr!.WriteFd));
        }
        finally
        {
            if (devNull >= 0)
            {
                LibC.close(devNull);
            }

            stdout?.CloseWriteEnd();
            stderr?.CloseWriteEnd();
        }

        var output = stdout?.ReadToEndAsync() ?? Task.FromResult("");
        var errors = stderr?.ReadToEndAsync() ?? Task.FromResult("");
        // runc is never abandoned half-way: a cancelled caller still waits for it, so state is never left ambiguous.
        var exit = await exited.ConfigureAwait(false);
        var text = await output.ConfigureAwait(false);
        var errorText = await errors.ConfigureAwait(false);
        if (exit.Status != 0)
        {
            throw new RuncException(args[0], LastError(logFile, logStart) ?? LastLine(errorText) ?? $"exit status {exit.Status}");
        }

        return text;
    }

    /// <summary>The message of the last error runc logged after <paramref name="offset"/>.</summary>
    internal static string? LastError(string logFile, long offset)
    {
        if (!File.Exists(logFile))
        {
            return null;
        }

        using var stream = new FileStream(logFile, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        stream.Seek(Math.Min(offset, stream.Length), SeekOrigin.Begin);
        using var reader = new StreamReader(stream);
        string? last = null;
        while (reader.ReadLine() is { } line)
        {
            if (line.Length == 0)
            {
                continue;
            }

            try
            {
                using var entry = JsonDocument.Parse(line);
                if (entry.RootElement.TryGetProperty("level", out var level) && level.GetString() is "error" or "fatal"
                    && entry.RootElement.TryGetProperty("msg", out var msg))
                {
                    last = msg.GetString();
                }
            }
            catch (JsonException)
            {
                last = line; // not JSON: runc failed before it set up its logger
            }
        }

        return last;
    }

    private static string? LastLine(string text) =>
        text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault();
}
