namespace Isola.Plugins.Shim.Controller;

/// <summary>
/// Keeps a container's stdout and stderr in separate files. containerd 1.6's shim writes both streams of a file://
/// stdio to the stdout file, so a pair of distinct file:// outputs is handed to the shim as one binary:// URI naming
/// isola-logger, which the shim runs with the two pipes (containerd's log-driver mechanism).
/// </summary>
internal static class StdioRouting
{
    /// <summary>The translated stdio, or null when <paramref name="stdio"/> is fine as it is.</summary>
    public static StdioSpec? Translate(StdioSpec stdio, string logger)
    {
        if (!TryFilePath(stdio.Stdout, out var stdout) || !TryFilePath(stdio.Stderr, out var stderr) || stdout == stderr)
        {
            return null;
        }

        var uri = $"binary://{logger}?stdout={Uri.EscapeDataString(stdout)}&stderr={Uri.EscapeDataString(stderr)}";
        return stdio with { Stdout = uri, Stderr = uri };
    }

    private static bool TryFilePath(string url, out string path)
    {
        path = url.StartsWith("file://", StringComparison.Ordinal) ? Uri.UnescapeDataString(url[7..]) : "";
        return path.StartsWith('/');
    }
}
