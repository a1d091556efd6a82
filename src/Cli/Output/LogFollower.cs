namespace Isola.Cli.Output;

/// <summary>
/// Copies a growing log file (a container's stdout or stderr, written by the task service) to a writer until told to
/// stop, then drains what is left. Polls, because the writer is another process and the file may not exist yet.
/// </summary>
internal sealed class LogFollower
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(50);

    /// <summary>The local file behind a stdio URL ("file:///x" or a plain path); null for anything else (FIFOs of
    /// another host, "binary://" loggers, empty).</summary>
    public static string? LocalPath(string stdio)
    {
        if (string.IsNullOrEmpty(stdio))
        {
            return null;
        }

        if (stdio.StartsWith("file://", StringComparison.Ordinal))
        {
            return Uri.UnescapeDataString(stdio["file://".Length..]);
        }

        return stdio.StartsWith('/') ? stdio : null;
    }

    /// <summary>Follows <paramref name="path"/> into <paramref name="writer"/> until <paramref name="stop"/> fires.</summary>
    public static async Task FollowAsync(string path, TextWriter writer, CancellationToken stop)
    {
        FileStream? stream = null;
        try
        {
            var buffer = new char[8192];
            StreamReader? reader = null;
            while (true)
            {
                var stopping = stop.IsCancellationRequested;
                if (reader is null && File.Exists(path))
                {
                    stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
                    reader = new StreamReader(stream);
                }

                if (reader is not null)
                {
                    int read;
                    while ((read = await reader.ReadAsync(buffer, CancellationToken.None).ConfigureAwait(false)) > 0)
                    {
                        await writer.WriteAsync(buffer.AsMemory(0, read), CancellationToken.None).ConfigureAwait(false);
                    }

                    await writer.FlushAsync(CancellationToken.None).ConfigureAwait(false);
                }

                if (stopping)
                {
                    return;
                }

                try
                {
                    await Task.Delay(Interval, stop).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    // One more pass drains what was written before the process exited.
                }
            }
        }
        finally
        {
            if (stream is not null)
            {
                await stream.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>Copies a whole log file; nothing when it does not exist.</summary>
    public static async Task CopyAsync(string path, TextWriter writer, CancellationToken cancellationToken)
    {
        if (!File.Exists(path))
        {
            return;
        }

        await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var reader = new StreamReader(stream);
        var buffer = new char[8192];
        int read;
        while ((read = await reader.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
        {
            await writer.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
        }

        await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
    }
}
