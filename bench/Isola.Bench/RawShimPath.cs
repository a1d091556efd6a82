using System.Buffers.Binary;
using System.Diagnostics;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Google.Protobuf;

namespace Isola.Bench;

/// <summary>
/// The second floor of the shim benchmark: the path a pause sandbox must take through its peers, driven with nothing
/// of Isola's: <c>containerd-shim-runc-v2 start</c> (cwd = bundle, stdin at EOF, a <c>log</c> FIFO), then Task
/// Create and Start over ttrpc; teardown is Kill(SIGKILL), Wait, Delete and Shutdown. What containerd itself pays for
/// a runc pod. The ttrpc exchange (sequential calls on one connection) and the protobuf fields are written out here
/// rather than taken from Isola.Ttrpc, so the floor owes nothing to the code it is a floor for.
/// </summary>
internal sealed class RawShimPath : IAsyncDisposable
{
    internal const string Service = "containerd.task.v2.Task";
    private readonly string _work;
    private readonly string _template;
    private readonly string _cgroupParent;
    private readonly string _namespace;
    private readonly Socket _events;
    private readonly Task _eventsLoop;
    private readonly CancellationTokenSource _stop = new();
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, RawShimPod> _live = new();

    /// <param name="work">A directory for bundles and the events socket.</param>
    /// <param name="template">A pause bundle (config.json, rootfs) to copy.</param>
    /// <param name="cgroupParent">Parent of each pod's cgroup.</param>
    /// <param name="ns">The containerd namespace the shims are given.</param>
    public RawShimPath(string work, string template, string cgroupParent, string ns)
    {
        (_work, _template, _cgroupParent, _namespace) = (work, template, cgroupParent, ns);
        Directory.CreateDirectory(work);
        // Shims publish task events to TTRPC_ADDRESS; this sink answers every Forward with an empty OK, as containerd does.
        _events = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        _events.Bind(new UnixDomainSocketEndPoint(EventsSocket));
        _events.Listen(64);
        _eventsLoop = Task.Run(AcceptEventsAsync);
    }

    private string EventsSocket => Path.Combine(_work, "events.sock");

    /// <summary>Writes pod <paramref name="id"/>'s bundle (config.json, its own rootfs, the <c>log</c> FIFO); returns
    /// its path, named after the id.</summary>
    public string Prepare(string id)
    {
        var bundle = ShimBench.PauseBundleFor(_template, Path.Combine(_work, id), $"{_cgroupParent}/raw-{id}");
        return mkfifo(Path.Combine(bundle, "log"), Convert.ToUInt32("600", 8)) == 0
            ? bundle
            : throw new IOException($"mkfifo {bundle}/log failed: errno {Marshal.GetLastPInvokeError()}");
    }

    /// <summary>One pod up from a prepared bundle: the shim, Task Create and Start of the pause. A failure leaves
    /// nothing running: the pod is taken down again before the error is thrown.</summary>
    public async Task<RawShimPod> StartAsync(string bundle)
    {
        var id = Path.GetFileName(bundle);
        // Read-write and non-blocking: the daemonised shim opens it for writing and must find a reader.
        var logFd = open(Path.Combine(bundle, "log"), 2 | 0x800 | 0x80000, 0);
        if (logFd < 0)
        {
            throw new IOException($"open {bundle}/log failed: errno {Marshal.GetLastPInvokeError()}");
        }

        RawShimPod? pod = null;
        try
        {
            var address = await ShimAsync(bundle, id, "start");
            var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            pod = new RawShimPod(id, bundle, socket, logFd);
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(address.Replace("unix://", "", StringComparison.Ordinal)));
            await pod.CallAsync("Create", RawTtrpcFrame.Message(w =>
            {
                w.WriteTag(1, WireFormat.WireType.LengthDelimited); w.WriteString(id);
                w.WriteTag(2, WireFormat.WireType.LengthDelimited); w.WriteString(bundle);
                w.WriteTag(10, WireFormat.WireType.LengthDelimited); w.WriteBytes(RuncOptions);
            }));
            await pod.CallAsync("Start", IdMessage(id));
            _live[id] = pod;
            return pod;
        }
        catch
        {
            await AbandonAsync(id, bundle, pod, logFd);
            throw;
        }
    }

    // After a failed start: delete the task and shut the shim down if it answers, then `shim delete` (kills and
    // deletes the runc container), then the bundle.
    private async Task AbandonAsync(string id, string bundle, RawShimPod? pod, int logFd)
    {
        if (pod is not null)
        {
            foreach (var (method, payload, hangup) in new[] { ("Kill", KillMessage(id), false), ("Delete", IdMessage(id), false), ("Shutdown", IdMessage(id), true) })
            {
                try
                {
                    await pod.CallAsync(method, payload, expectHangup: hangup);
                }
                catch (Exception e) when (e is InvalidOperationException or SocketException or TimeoutException)
                {
                }
            }

            pod.Dispose();
        }
        else
        {
            _ = close(logFd);
        }

        try
        {
            await ShimAsync(bundle, id, "delete", "-bundle", bundle);
        }
        catch (InvalidOperationException)
        {
        }

        Directory.Delete(bundle, recursive: true);
    }

    // KillRequest { id = 1, signal = 3 }: SIGKILL.
    private static ByteString KillMessage(string id) => RawTtrpcFrame.Message(w =>
    {
        w.WriteTag(1, WireFormat.WireType.LengthDelimited); w.WriteString(id);
        w.WriteTag(3, WireFormat.WireType.Varint); w.WriteUInt32(9);
    });

    private static ByteString IdMessage(string id) =>
        RawTtrpcFrame.Message(w => { w.WriteTag(1, WireFormat.WireType.LengthDelimited); w.WriteString(id); });

    /// <summary>One pod down: SIGKILL to the pause, Wait for its exit, Delete, Shutdown, bundle removed. SIGKILL, not
    /// SIGTERM: PID 1 of a pid namespace ignores SIGTERM until it has installed a handler, and this floor does not wait
    /// for that (Isola does, before it reports Ready).</summary>
    public async Task StopAsync(RawShimPod pod)
    {
        var id = IdMessage(pod.Id);
        var wait = pod.CallAsync("Wait", id);
        await pod.CallAsync("Kill", KillMessage(pod.Id));
        await wait;
        await pod.CallAsync("Delete", id);
        await pod.CallAsync("Shutdown", id, expectHangup: true);
        _live.TryRemove(pod.Id, out _);
        pod.Dispose();
        Directory.Delete(pod.Bundle, recursive: true);
    }

    // containerd.runc.v1.Options { binary_name = "runc" } in an Any, as Isola sends it.
    private static readonly ByteString RuncOptions = RawTtrpcFrame.Message(w =>
    {
        w.WriteTag(1, WireFormat.WireType.LengthDelimited); w.WriteString("containerd.runc.v1.Options");
        w.WriteTag(2, WireFormat.WireType.LengthDelimited); w.WriteBytes(RawTtrpcFrame.Message(o => { o.WriteTag(6, WireFormat.WireType.LengthDelimited); o.WriteString("runc"); }));
    });

    private async Task<string> ShimAsync(string bundle, string id, string action, params string[] actionArgs)
    {
        var psi = new ProcessStartInfo("containerd-shim-runc-v2")
        {
            WorkingDirectory = bundle,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var a in new[] { "-namespace", _namespace, "-address", Path.Combine(_work, "containerd.sock"), "-publish-binary", "/bin/true", "-id", id })
        {
            psi.ArgumentList.Add(a);
        }

        foreach (var a in actionArgs.Append(action))
        {
            psi.ArgumentList.Add(a);
        }

        psi.Environment["TTRPC_ADDRESS"] = EventsSocket;
        using var p = Process.Start(psi)!;
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        return p.ExitCode == 0 ? (await stdout).Trim() : throw new InvalidOperationException($"shim {action} exited {p.ExitCode}: {await stderr}");
    }

    private async Task AcceptEventsAsync()
    {
        try
        {
            while (true)
            {
                var connection = await _events.AcceptAsync(_stop.Token);
                _ = Task.Run(async () =>
                {
                    using (connection)
                    {
                        try
                        {
                            while (await RawTtrpcFrame.ReadAsync(connection) is { } request)
                            {
                                await RawTtrpcFrame.WriteAsync(connection, request.Stream, 2, ByteString.Empty);
                            }
                        }
                        catch (SocketException)
                        {
                        }
                    }
                });
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var pod in _live.Values)
        {
            await AbandonAsync(pod.Id, pod.Bundle, pod, -1); // a run that failed part-way: take its pods down
        }

        await _stop.CancelAsync();
        _events.Dispose();
        await _eventsLoop;
        Directory.Delete(_work, recursive: true);
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int mkfifo(string path, uint mode);

    [DllImport("libc", SetLastError = true)]
    private static extern int open(string path, int flags, uint mode);

    [DllImport("libc")]
    internal static extern int close(int fd);
}
