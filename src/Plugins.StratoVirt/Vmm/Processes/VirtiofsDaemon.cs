using System.Diagnostics;

namespace Isola.Plugins.StratoVirt.Vmm.Processes;

/// <summary>
/// The virtiofs daemon serving the sandbox's shared directory. Started before the VMM (the VMM connects to its socket
/// as the vhost-user client) and stopped after it. Its arguments are a template ({socket}, {shared}, {log}) because
/// the daemons differ: QEMU's C virtiofsd, upstream Rust virtiofsd, StratoVirt's old vhost_user_fs.
/// </summary>
internal static class VirtiofsDaemon
{
    /// <summary>Debian's C virtiofsd (qemu-system-common).</summary>
    public const string CTemplate = "--socket-path={socket} -o source={shared} -o cache=none";

    /// <summary>Upstream Rust virtiofsd, which StratoVirt's docs point to.</summary>
    public const string RustTemplate = "--socket-path={socket} --shared-dir={shared} --cache=never";

    /// <summary>Starts the daemon and waits for its socket. The daemon gets its own session (it must not die with
    /// the host's terminal) and its output appended to <paramref name="logPath"/>. Returns the running daemon.</summary>
    public static async Task<ProcessIdentity> StartAsync(string vmId, string binary, string template,
        string socketPath, string sharedDirectory, string logPath, TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (!File.Exists(binary))
        {
            throw IsolaException.NotFound($"VM {vmId}: virtiofs daemon '{binary}' does not exist (Debian: qemu-system-common ships /usr/lib/qemu/virtiofsd)");
        }

        File.Delete(socketPath);
        // A fixed /bin/sh script redirects output and calls setsid; every user-supplied string is a positional
        // argument, never parsed by the shell.
        var psi = new ProcessStartInfo("/bin/sh") { UseShellExecute = false };
        foreach (var a in new[] { "-c", "log=$1; shift; exec setsid \"$@\" >>\"$log\" 2>&1 </dev/null", "virtiofsd", logPath, binary })
        {
            psi.ArgumentList.Add(a);
        }

        foreach (var part in template.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            psi.ArgumentList.Add(part.Replace("{socket}", socketPath, StringComparison.Ordinal)
                .Replace("{shared}", sharedDirectory, StringComparison.Ordinal)
                .Replace("{log}", logPath, StringComparison.Ordinal));
        }

        var process = Process.Start(psi) ?? throw IsolaException.Internal($"VM {vmId}: cannot start {binary}");
        try
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            deadline.CancelAfter(timeout);
            while (!File.Exists(socketPath))
            {
                if (process.HasExited)
                {
                    throw IsolaException.Internal($"VM {vmId}: virtiofs daemon {binary} exited with code {process.ExitCode} before creating {socketPath}; see {logPath}");
                }

                try
                {
                    await Task.Delay(10, deadline.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    throw IsolaException.DeadlineExceeded($"VM {vmId}: virtiofs daemon {binary} did not create {socketPath} within {timeout.TotalSeconds:0.#} s");
                }
            }

            var identity = ProcessIdentity.Read(process.Id) ?? throw IsolaException.Internal($"VM {vmId}: virtiofs daemon {binary} vanished after start");
            ChildProcesses.Track(process);
            return identity;
        }
        catch
        {
            Kill(process);
            throw;
        }
    }

    private static void Kill(Process process)
    {
        try
        {
            process.Kill();
            process.WaitForExit(5000);
        }
        catch (InvalidOperationException)
        {
        }

        process.Dispose();
    }
}
