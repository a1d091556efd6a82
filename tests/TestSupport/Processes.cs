using System.Diagnostics;

namespace Isola.TestSupport;

/// <summary>What tests ask about processes the code under test started (a shim, a VMM, an `isola` command).</summary>
public static class Processes
{
    /// <summary>Whether process <paramref name="pid"/> runs: it exists and is neither a zombie nor dead (an exited child
    /// not yet reaped still has a /proc entry).</summary>
    public static bool IsRunning(long pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/stat").Split(") ")[1][0] is not ('Z' or 'X');
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>Runs a program (no shell) to its end and returns its standard output; a non-zero exit throws with the
    /// command line and its standard error.</summary>
    /// <exception cref="InvalidOperationException">It exited non-zero.</exception>
    public static string Run(string file, params string[] args)
    {
        var (code, output, error) = TryRun(file, args);
        return code == 0 ? output : throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited {code}: {error}");
    }

    /// <summary>Runs a program (no shell) to its end: exit code, standard output, standard error.</summary>
    public static (int Code, string Output, string Error) TryRun(string file, params string[] args)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"cannot start {file}");
        // Both pipes drain at once, so a chatty program cannot block on a full pipe while the other is read.
        var error = process.StandardError.ReadToEndAsync();
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, output, error.Result);
    }
}
