using System.Diagnostics;
using Isola.TestSupport;

namespace Isola.Bench;

/// <summary>The built <c>isola</c> command run as a user runs it (a fresh process each time), timed from spawn to
/// exit; and the small helpers the process benchmarks share.</summary>
internal static class IsolaCommand
{
    /// <summary>The isola.dll of the newest build (Release preferred).</summary>
    public static string Find()
    {
        foreach (var config in new[] { "Release", "Debug" })
        {
            var path = Path.Combine(RepoPaths.Root, "src", "Cli", "bin", config, "net10.0", "isola.dll");
            if (File.Exists(path))
            {
                return path;
            }
        }

        throw new FileNotFoundException("isola.dll not found: build it first (dotnet build src/Cli/Isola.Cli.csproj)");
    }

    /// <summary>Runs <c>dotnet ISOLA ARGS</c> with <paramref name="env"/> and returns its wall time in milliseconds;
    /// throws with its output when it fails.</summary>
    public static async Task<double> TimeAsync(string isola, string[] args, IReadOnlyDictionary<string, string> env, CancellationToken ct)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(isola);
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }

        foreach (var (k, v) in env)
        {
            start.Environment[k] = v;
        }

        var clock = Stopwatch.StartNew();
        using var process = Process.Start(start) ?? throw new InvalidOperationException("cannot start dotnet");
        var stdout = process.StandardOutput.ReadToEndAsync(ct);
        var stderr = process.StandardError.ReadToEndAsync(ct);
        await process.WaitForExitAsync(ct);
        var elapsed = clock.Elapsed.TotalMilliseconds;
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"isola {string.Join(' ', args)} exited {process.ExitCode}: {(await stderr).Trim()} {(await stdout).Trim()}");
        }

        return elapsed;
    }

    /// <summary>The 1-minute load average (Linux), to tell a quiet run from a noisy one.</summary>
    public static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "?";

    public static int IntArg(string[] args, string name, int fallback) =>
        StringArg(args, name) is { } v ? int.Parse(v, System.Globalization.CultureInfo.InvariantCulture) : fallback;

    public static string? StringArg(string[] args, string name)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }
}
