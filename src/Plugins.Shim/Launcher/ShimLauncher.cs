using System.Diagnostics;
using Isola.Plugins.Shim.Events;
using Microsoft.Extensions.Logging;

namespace Isola.Plugins.Shim.Launcher;

/// <summary>
/// Runs a containerd runtime-v2 shim binary the way containerd does: <c>start</c> to launch (or find) the shim
/// serving a bundle, <c>delete</c> to clean a container up when the shim cannot be reached.
/// </summary>
internal sealed class ShimLauncher
{
    private readonly EventsEndpoint _events;
    private readonly ILogger _logger;

    /// <summary>The file `shim start` writes the shim's Task API address to, in the bundle.</summary>
    public const string AddressFile = "address";

    /// <summary>The trimmed content of <paramref name="name"/> in <paramref name="bundle"/>, or null when absent.</summary>
    public static string? ReadBundleFile(string bundle, string name)
    {
        try
        {
            return File.ReadAllText(Path.Combine(bundle, name)).Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <param name="events">The TTRPC_ADDRESS shims are given, prepared before each launch.</param>
    /// <param name="logger">Where shim failures are logged.</param>
    public ShimLauncher(EventsEndpoint events, ILogger logger)
    {
        _events = events;
        _logger = logger;
    }

    /// <summary>
    /// <c>SHIM -namespace NS -address ADDR -publish-binary BIN -id ID start</c> with cwd = the bundle and stdin at EOF
    /// (the runc shim reads its options from stdin until EOF). The bundle's <c>log</c> FIFO must already be open for
    /// reading (see <see cref="ShimLogDrain"/>): the daemonised shim opens it for writing.
    /// </summary>
    public async Task<ShimStartResult> StartAsync(string id, string bundle, ShimSettings settings, CancellationToken cancellationToken)
    {
        int exit;
        string stdout, stderr;
        // The endpoint must exist before the shim reads TTRPC_ADDRESS, and stay until the shim shows in /proc.
        using (_events.Prepare())
        {
            (exit, stdout, stderr) = await RunAsync(bundle, settings, ["-id", id, "start"], cancellationToken).ConfigureAwait(false);
        }

        if (exit != 0)
        {
            throw IsolaException.Internal($"sandbox '{id}': {settings.ShimBinary} start exited with {exit}: {FirstLine(stderr)}");
        }

        return ShimStartResult.Parse(stdout, settings.ShimBinary);
    }

    /// <summary><c>SHIM ... -id ID -bundle BUNDLE delete</c>: force-deletes the container in the OCI runtime and
    /// unmounts its rootfs, for when the shim is gone. A container already gone is not an error.</summary>
    public async Task DeleteAsync(string id, string bundle, ShimSettings settings, CancellationToken cancellationToken)
    {
        if (!Directory.Exists(bundle))
        {
            return;
        }

        var (exit, _, stderr) = await RunAsync(bundle, settings, ["-id", id, "-bundle", bundle, "delete"], cancellationToken).ConfigureAwait(false);
        if (exit != 0)
        {
            _logger.LogDebug("{Shim} delete of '{Id}' exited with {Exit}: {Error}", settings.ShimBinary, id, exit, FirstLine(stderr));
        }
    }

    private async Task<(int Exit, string Stdout, string Stderr)> RunAsync(string bundle, ShimSettings settings, IReadOnlyList<string> args,
        CancellationToken cancellationToken)
    {
        var psi = new ProcessStartInfo(settings.ShimBinary)
        {
            WorkingDirectory = bundle,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { "-namespace", settings.Namespace, "-address", settings.ContainerdAddress, "-publish-binary", settings.PublishBinary })
        {
            psi.ArgumentList.Add(arg);
        }

        foreach (var arg in args)
        {
            psi.ArgumentList.Add(arg);
        }

        // containerd's environment for shims: 1.x reads TTRPC_ADDRESS; 2.x also GRPC_ADDRESS, NAMESPACE, MAX_SHIM_VERSION.
        psi.Environment["TTRPC_ADDRESS"] = _events.Path;
        psi.Environment["GRPC_ADDRESS"] = settings.ContainerdAddress;
        psi.Environment["NAMESPACE"] = settings.Namespace;
        psi.Environment["MAX_SHIM_VERSION"] = "2";

        Process process;
        try
        {
            process = Process.Start(psi) ?? throw new InvalidOperationException("no process");
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            throw IsolaException.Unavailable($"cannot run shim binary {settings.ShimBinary}: {e.Message} (install containerd, or set Options:ShimBinary)", e);
        }

        using (process)
        {
            process.StandardInput.Close();
            var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
            var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
            try
            {
                await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // `start` forks the shim daemon as its child: kill that too, or a cancelled start leaves an orphan shim.
                // A daemon already detached (start returned) is found later through the bundle's shim.pid.
                process.Kill(entireProcessTree: true);
                throw;
            }

            return (process.ExitCode, await stdout.ConfigureAwait(false), await stderr.ConfigureAwait(false));
        }
    }

    // Errors are one line: the first the binary printed (what failed; later lines are usually context or usage).
    private static string FirstLine(string text)
    {
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return lines.Length == 0 ? "(no output)" : lines[0];
    }
}
