using System.Diagnostics;
using System.Text;
using Isola.TestSupport;

namespace Isola.Integration.Tests.Scripting;

/// <summary>Runs the built <c>isola</c> command as a child process (argument list, no shell) and captures its output.</summary>
internal sealed class IsolaProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();

    private IsolaProcess(Process process)
    {
        _process = process;
        _process.OutputDataReceived += (_, e) => Append(_stdout, e.Data);
        _process.ErrorDataReceived += (_, e) => Append(_stderr, e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public int Pid => _process.Id;

    public string Stdout { get { lock (_stdout) { return _stdout.ToString(); } } }

    public string Stderr { get { lock (_stderr) { return _stderr.ToString(); } } }

    public static IsolaProcess Start(IReadOnlyDictionary<string, string?> settings, string cacheHome, params string[] args) =>
        Start(settings, cacheHome, new Dictionary<string, string>(), args);

    /// <summary>As above, with <paramref name="environment"/> added to the child's environment.</summary>
    public static IsolaProcess Start(IReadOnlyDictionary<string, string?> settings, string cacheHome, IReadOnlyDictionary<string, string> environment,
        params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(IsolaDll());
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        foreach (var (key, value) in settings)
        {
            // Isola:Runtimes:runc:Controller -> ISOLA__Runtimes__runc__Controller (names are case-sensitive: runtime "runc")
            start.Environment["ISOLA__" + key["Isola:".Length..].Replace(":", "__", StringComparison.Ordinal)] = value;
        }

        start.Environment["XDG_CACHE_HOME"] = cacheHome;
        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }

        return new IsolaProcess(Process.Start(start) ?? throw new InvalidOperationException("cannot start dotnet"));
    }

    public async Task<int> WaitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            _process.Kill(entireProcessTree: true);
            throw new TimeoutException($"isola did not exit within {timeout}; stderr:\n{Stderr}");
        }

        _process.WaitForExit(); // drains the asynchronous readers
        return _process.ExitCode;
    }

    /// <summary>Waits until stderr contains <paramref name="text"/> (or the process exits).</summary>
    public async Task<bool> WaitForStderrAsync(string text, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline && !_process.HasExited)
        {
            if (Stderr.Contains(text, StringComparison.Ordinal))
            {
                return true;
            }

            await Task.Delay(50);
        }

        return Stderr.Contains(text, StringComparison.Ordinal);
    }

    public void Signal(string name)
    {
        using var kill = Process.Start(new ProcessStartInfo("kill") { ArgumentList = { "-" + name, Pid.ToString(System.Globalization.CultureInfo.InvariantCulture) } })!;
        kill.WaitForExit();
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        _process.Dispose();
    }

    private static void Append(StringBuilder buffer, string? line)
    {
        if (line is not null)
        {
            lock (buffer)
            {
                buffer.AppendLine(line);
            }
        }
    }

    private static string IsolaDll()
    {
        foreach (var config in new[] { "Debug", "Release" })
        {
            var path = Path.Combine(RepoPaths.Root, "src", "Cli", "bin", config, "net10.0", "isola.dll");
            if (File.Exists(path))
            {
                return path;
            }
        }

        throw new FileNotFoundException("isola.dll not built: run dotnet build src/Cli/Isola.Cli.csproj (scripts/isola does it)");
    }
}
