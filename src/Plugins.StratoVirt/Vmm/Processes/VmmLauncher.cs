using System.Globalization;
using Isola.Plugins.StratoVirt.Native;
using Isola.Plugins.StratoVirt.Qmp;
using Microsoft.Extensions.Logging;

namespace Isola.Plugins.StratoVirt.Vmm.Processes;

/// <summary>
/// Starts a VMM with -daemonize -pidfile and waits, under one deadline, until the launcher has exited 0, the pidfile
/// names a live process and its QMP socket answers. StratoVirt binds QMP only after daemonizing, so the socket is
/// polled rather than expected when the launcher exits (QEMU binds before). On any failure the daemon (if it got that
/// far) is SIGKILLed and its socket and pidfile removed: nothing is left running.
/// </summary>
internal static class VmmLauncher
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(10);
    private const int MaxOutput = 4096;
    private const string NoOutput = "(no output)";

    public static async Task<(ProcessIdentity Vmm, QmpClient Qmp)> LaunchAsync(string vmId, IReadOnlyList<string> argv,
        VmLayout layout, TimeSpan startTimeout, QmpClientOptions qmpOptions, ILogger logger, CancellationToken cancellationToken)
    {
        var binary = argv[0];
        if (!File.Exists(binary))
        {
            throw IsolaException.NotFound($"VM {vmId}: VMM binary '{binary}' does not exist");
        }

        File.Delete(layout.QmpSocket);
        File.Delete(layout.PidFile);
        File.Delete(layout.OutputLog);

        // Not System.Diagnostics.Process: its only redirection is pipes, which the daemon would inherit (see PosixSpawn).
        int launcher;
        try
        {
            launcher = PosixSpawn.Start(argv, layout.OutputLog);
        }
        catch (IsolaException e)
        {
            File.Delete(layout.OutputLog);
            throw IsolaException.Internal($"VM {vmId}: {e.Message}", e);
        }

        logger.LogDebug("VM {Id}: launched {Binary} (launcher pid {Pid})", vmId, binary, launcher);

        ProcessIdentity? vmm = null;
        int? launcherExit = null;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(startTimeout);
        try
        {
            while (true)
            {
                launcherExit ??= PosixSpawn.TryReap(launcher);
                if (launcherExit is { } code && code > 0)
                {
                    throw IsolaException.Internal($"VM {vmId}: VMM '{binary}' exited with code {code}: {Tail(layout)}");
                }

                vmm ??= ReadPidFile(layout.PidFile);
                if (vmm is { } v && !v.IsAlive())
                {
                    // The launcher relays the daemon's error: give it a moment to finish so its output is complete.
                    if (launcherExit is null)
                    {
                        await ReapAsync(launcher, TimeSpan.FromSeconds(2)).ConfigureAwait(false);
                        launcherExit = -1;
                    }

                    throw IsolaException.Internal($"VM {vmId}: VMM '{binary}' (pid {v.Pid}) exited during start: {Tail(layout)}");
                }

                if (vmm is not null && launcherExit is not null && File.Exists(layout.QmpSocket))
                {
                    try
                    {
                        var qmp = await QmpClient.ConnectAsync(layout.QmpSocket, qmpOptions, logger, deadline.Token).ConfigureAwait(false);
                        return (vmm.Value, qmp);
                    }
                    catch (IsolaException e) when (e.Code == IsolaErrorCode.Unavailable)
                    {
                        // Bound but not listening yet: poll again.
                    }
                }

                await Task.Delay(PollInterval, deadline.Token).ConfigureAwait(false);
            }
        }
        catch (Exception e)
        {
            vmm ??= ReadPidFile(layout.PidFile);
            if (launcherExit is null && PosixSpawn.TryReap(launcher) is null)
            {
                LibC.Kill(launcher, LibC.SIGKILL);
                await ReapAsync(launcher, TimeSpan.FromSeconds(5)).ConfigureAwait(false);
            }

            if (vmm is { } daemon)
            {
                await KillAndWaitAsync(daemon, TimeSpan.FromSeconds(5)).ConfigureAwait(false);
            }

            var output = Tail(layout);
            foreach (var path in new[] { layout.QmpSocket, layout.PidFile, layout.AgentSocket, layout.OutputLog })
            {
                File.Delete(path);
            }

            if (e is OperationCanceledException && !cancellationToken.IsCancellationRequested)
            {
                throw IsolaException.DeadlineExceeded(
                    $"VM {vmId}: QMP socket {layout.QmpSocket} did not answer within {startTimeout.TotalSeconds:0.#} s after starting '{binary}'" +
                    (vmm is null ? " (no pidfile either)" : $" (pid {vmm.Value.Pid} killed)") +
                    (output == NoOutput ? "" : ": " + output));
            }

            if (e is IsolaException { Code: IsolaErrorCode.DeadlineExceeded } && !cancellationToken.IsCancellationRequested)
            {
                throw IsolaException.DeadlineExceeded($"VM {vmId}: QMP socket {layout.QmpSocket} did not answer within {startTimeout.TotalSeconds:0.#} s: {e.Message}", e);
            }

            throw;
        }
    }

    /// <summary>SIGKILLs the VMM (when it is still the process we launched) and waits for it to be gone.</summary>
    public static async Task KillAndWaitAsync(ProcessIdentity vmm, TimeSpan timeout)
    {
        if (vmm.IsAlive())
        {
            LibC.Kill(vmm.Pid, LibC.SIGKILL);
        }

        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await ProcessExitWatcher.WaitForExitAsync(vmm, cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            throw IsolaException.Internal($"VMM pid {vmm.Pid} survived SIGKILL for {timeout.TotalSeconds:0.#} s");
        }
    }

    /// <summary>Waits up to <paramref name="timeout"/> for the launcher to exit and reaps it.</summary>
    private static async Task ReapAsync(int pid, TimeSpan timeout)
    {
        var until = DateTime.UtcNow + timeout;
        while (PosixSpawn.TryReap(pid) is null && DateTime.UtcNow < until)
        {
            await Task.Delay(PollInterval).ConfigureAwait(false);
        }
    }

    private static ProcessIdentity? ReadPidFile(string path)
    {
        try
        {
            var text = File.ReadAllText(path).Trim();
            return int.TryParse(text, CultureInfo.InvariantCulture, out var pid) ? ProcessIdentity.Read(pid) : null;
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>The end of the VMM's output, on one line, for error messages.</summary>
    private static string Tail(VmLayout layout)
    {
        string text;
        try
        {
            using var stream = new FileStream(layout.OutputLog, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            stream.Seek(Math.Max(0, stream.Length - MaxOutput), SeekOrigin.Begin);
            using var reader = new StreamReader(stream);
            text = reader.ReadToEnd();
        }
        catch (IOException)
        {
            text = "";
        }

        text = text.Trim().Replace('\n', ' ');
        return text.Length == 0 ? NoOutput : text;
    }
}
