using System.Diagnostics;
using Isola.TestSupport;

namespace Isola.Bench;

/// <summary>The published <c>isola</c> command run as a user runs it (a fresh process each time), timed from spawn to
/// exit; and the small helpers the process benchmarks share.</summary>
internal static class IsolaCommand
{
    /// <summary>The <c>isola</c> users run: the Release, ReadyToRun build scripts/publish lays out in artifacts/cli,
    /// published first when it is missing or older than the sources.</summary>
    public static string Find() => Published("src/Cli/Isola.Cli.csproj", "cli", "isola");

    /// <summary><paramref name="project"/> published by scripts/publish into artifacts/<paramref name="folder"/>
    /// (republished when a source is newer); returns the path of its apphost <paramref name="program"/>.</summary>
    public static string Published(string project, string folder, string program)
    {
        var output = Path.Combine(RepoPaths.Root, "artifacts", folder);
        var start = new ProcessStartInfo(RepoPaths.Combine("scripts", "publish")) { RedirectStandardOutput = true };
        foreach (var a in new[] { "--if-stale", "--project", RepoPaths.Combine(project), output })
        {
            start.ArgumentList.Add(a);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("cannot start scripts/publish");
        var stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        var path = Path.Combine(output, program);
        return process.ExitCode == 0 && File.Exists(path)
            ? path
            : throw new InvalidOperationException(
                $"scripts/publish --project {project} {output} failed (exit {process.ExitCode}; its errors are above): {stdout.Trim()}");
    }

    /// <summary>Runs <paramref name="program"/> (an apphost, or a .dll run through <c>dotnet</c>) with
    /// <paramref name="args"/> and <paramref name="env"/>, and returns its wall time in milliseconds, from spawn to
    /// exit; throws with its output when it fails.</summary>
    public static async Task<double> TimeAsync(string program, string[] args, IReadOnlyDictionary<string, string> env, CancellationToken ct)
    {
        var isDll = program.EndsWith(".dll", StringComparison.Ordinal);
        var start = new ProcessStartInfo(isDll ? "dotnet" : program) { RedirectStandardOutput = true, RedirectStandardError = true };
        if (isDll)
        {
            start.ArgumentList.Add(program);
        }

        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }

        foreach (var (k, v) in env)
        {
            start.Environment[k] = v;
        }

        var clock = Stopwatch.StartNew();
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"cannot start {program}");
        var stdout = process.StandardOutput.ReadToEndAsync(ct);
        var stderr = process.StandardError.ReadToEndAsync(ct);
        await process.WaitForExitAsync(ct);
        var elapsed = clock.Elapsed.TotalMilliseconds;
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{Path.GetFileName(program)} {string.Join(' ', args)} exited {process.ExitCode}: {(await stderr).Trim()} {(await stdout).Trim()}");
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
