using System.Text;
using Isola.Ttrpc;
using Isola.Ttrpc.Client;
using Isola.Vmm;

namespace Isola.Plugins.StratoVirt.Controller;

/// <summary>
/// Waits until a started VM is ready, under one deadline, failing early if the VMM exits meanwhile:
/// the guest agent answering Kuasar's vmm-task <c>grpc.SandboxService/Check</c> over ttrpc, or a marker line on the
/// guest console, or nothing at all.
/// </summary>
internal static class ReadinessProbe
{
    public const string SandboxService = "grpc.SandboxService";
    public const string CheckMethod = "Check";

    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(50);

    public static async Task WaitAsync(SandboxId sandboxId, Readiness readiness, IVmInstance vm, string taskAddress, string consoleLog,
        string marker, TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (readiness == Readiness.None)
        {
            return;
        }

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        var exited = vm.WaitAsync(deadline.Token);
        string lastError = "";
        try
        {
            while (true)
            {
                if (exited.IsCompletedSuccessfully)
                {
                    throw IsolaException.Unavailable($"sandbox {sandboxId}: the VMM (pid {vm.Pid}) exited before the guest was ready; console: {Tail(consoleLog)}");
                }

                if (readiness == Readiness.ConsoleMarker)
                {
                    if (ConsoleHasMarker(consoleLog, marker))
                    {
                        return;
                    }
                }
                else
                {
                    try
                    {
                        await using var client = await TtrpcClient.ConnectAsync(taskAddress, null, deadline.Token).ConfigureAwait(false);
                        await client.CallRawAsync(SandboxService, CheckMethod, ReadOnlyMemory<byte>.Empty,
                            new TtrpcCallOptions { Timeout = TimeSpan.FromSeconds(2) }, deadline.Token).ConfigureAwait(false);
                        return;
                    }
                    catch (TtrpcException e) when (e.Code is TtrpcStatusCode.Unavailable or TtrpcStatusCode.DeadlineExceeded)
                    {
                        // The agent is not serving yet: try again until the deadline.
                        lastError = e.Message;
                    }
                    catch (TtrpcException e) when (!deadline.IsCancellationRequested)
                    {
                        // It answered, but not as Kuasar's vmm-task would: waiting longer will not help.
                        throw new IsolaException(IsolaErrorCodes.FromGrpc((int)e.Code), $"sandbox {sandboxId}: the guest agent at {taskAddress} refused {SandboxService}/{CheckMethod}: {e.Message}", e);
                    }
                }

                await Task.Delay(Poll, deadline.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            var what = readiness == Readiness.ConsoleMarker
                ? $"marker '{marker}' did not appear on the console {consoleLog}"
                : $"the guest agent at {taskAddress} did not answer {SandboxService}/{CheckMethod}" + (lastError.Length > 0 ? $" (last error: {lastError})" : "");
            throw IsolaException.DeadlineExceeded($"sandbox {sandboxId}: {what} within {timeout.TotalSeconds:0.#} s; console: {Tail(consoleLog)}");
        }
    }

    private static bool ConsoleHasMarker(string path, string marker)
    {
        try
        {
            using var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            using var r = new StreamReader(f, Encoding.UTF8);
            while (r.ReadLine() is { } line)
            {
                if (line.Contains(marker, StringComparison.Ordinal))
                {
                    return true;
                }
            }
        }
        catch (FileNotFoundException)
        {
        }

        return false;
    }

    /// <summary>The last few hundred characters of the console log, for error messages.</summary>
    public static string Tail(string path)
    {
        try
        {
            using var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            f.Seek(Math.Max(0, f.Length - 400), SeekOrigin.Begin);
            using var r = new StreamReader(f, Encoding.UTF8);
            var text = r.ReadToEnd().Replace('\n', ' ').Replace('\r', ' ').Trim();
            return text.Length == 0 ? "(empty)" : text;
        }
        catch (IOException)
        {
            return "(no console log)";
        }
    }
}
