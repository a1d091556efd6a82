using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Text;
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
    private static readonly TimeSpan OutputGrace = TimeSpan.FromSeconds(2);

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

        var psi = new ProcessStartInfo(binary)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var a in argv.Skip(1))
        {
            psi.ArgumentList.Add(a);
        }

        var output = new StringBuilder();
        using var launcher = new Process { StartInfo = psi };
        launcher.OutputDataReceived += (_, e) => Append(output, e.Data);
        launcher.ErrorDataReceived += (_, e) => Append(output, e.Data);
        try
        {
            launcher.Start();
        }
        catch (Win32Exception e)
        {
            throw IsolaException.Internal($"VM {vmId}: cannot start VMM '{binary}': {e.Message}", e);
        }

        launcher.BeginOutputReadLine();
        launcher.BeginErrorReadLine();
        logger.LogDebug("VM {Id}: launched {Binary} (launcher pid {Pid})", vmId, binary, launcher.Id);

        ProcessIdentity? vmm = null;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(startTimeout);
        try
        {
            while (true)
            {
                if (launcher.HasExited && launcher.ExitCode != 0)
                {
                    await DrainOutputAsync(launcher).ConfigureAwait(false);
                    throw IsolaException.Internal($"VM {vmId}: VMM '{binary}' exited with code {launcher.ExitCode}: {Tail(output)}");
                }

                vmm ??= ReadPidFile(layout.PidFile);
                if (vmm is { } v && !v.IsAlive())
                {
                    // The launcher relays the daemon's error: let it finish so its output is complete.
                    await DrainOutputAsync(launcher).ConfigureAwait(false);

                    throw IsolaException.Internal($"VM {vmId}: VMM '{binary}' (pid {v.Pid}) exited during start: {Tail(output)}");
                }

                if (vmm is not null && launcher.HasExited && File.Exists(layout.QmpSocket))
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
            await KillAsync(launcher, vmm).ConfigureAwait(false);
            foreach (var path in new[] { layout.QmpSocket, layout.PidFile, layout.AgentSocket })
            {
                File.Delete(path);
            }

            if (e is OperationCanceledException && !cancellationToken.IsCancellationRequested)
            {
                throw IsolaException.DeadlineExceeded(
                    $"VM {vmId}: QMP socket {layout.QmpSocket} did not answer within {startTimeout.TotalSeconds:0.#} s after starting '{binary}'" +
                    (vmm is null ? " (no pidfile either)" : $" (pid {vmm.Value.Pid} killed)") + Suffix(output));
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

    /// <summary>Waits a bounded time for the launcher to exit and its output to reach end of file. Never the untimed
    /// WaitForExit(): it waits for EOF on the redirected pipes, and a daemon that kept the launcher's stdout or stderr
    /// (QEMU keeps stderr under -D) holds them open for as long as the VM runs. Whatever arrived by then is reported.</summary>
    private static async Task DrainOutputAsync(Process launcher)
    {
        using var grace = new CancellationTokenSource(OutputGrace);
        try
        {
            await launcher.WaitForExitAsync(grace.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static async Task KillAsync(Process launcher, ProcessIdentity? vmm)
    {
        try
        {
            if (!launcher.HasExited)
            {
                launcher.Kill(entireProcessTree: true);
            }

            await launcher.WaitForExitAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is InvalidOperationException or TimeoutException)
        {
        }

        if (vmm is { } v)
        {
            await KillAndWaitAsync(v, TimeSpan.FromSeconds(5)).ConfigureAwait(false);
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

    private static void Append(StringBuilder sb, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (sb)
        {
            if (sb.Length < 4096)
            {
                sb.AppendLine(line);
            }
        }
    }

    private static string Tail(StringBuilder sb)
    {
        lock (sb)
        {
            var s = sb.ToString().Trim().Replace('\n', ' ');
            return s.Length == 0 ? "(no output)" : s;
        }
    }

    private static string Suffix(StringBuilder sb)
    {
        var t = Tail(sb);
        return t == "(no output)" ? "" : ": " + t;
    }
}
