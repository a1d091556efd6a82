using System.Buffers.Binary;
using System.Diagnostics;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Google.Protobuf;

namespace Isola.Bench;

/// <summary>
/// The second floor of the shim benchmark: the path a pause sandbox must take through its peers, driven with nothing
/// of Isola's: <c>containerd-shim-runc-v2 start</c> (cwd = bundle, stdin at EOF, a <c>log</c> FIFO), then Task
/// Create and Start over ttrpc; teardown is Kill(SIGTERM), Wait, Delete and Shutdown. What containerd itself pays for
/// a runc pod. The ttrpc exchange (sequential calls on one connection) and the protobuf fields are written out here
/// rather than taken from Isola.Ttrpc, so the floor owes nothing to the code it is a floor for.
/// </summary>
internal sealed class RawShimPath : IAsyncDisposable
{
    private const string Service = "containerd.task.v2.Task";
    private readonly string _work;
    private readonly string _template;
    private readonly string _cgroupParent;
    private readonly string _namespace;
    private readonly Socket _events;
    private readonly Task _eventsLoop;
    private readonly CancellationTokenSource _stop = new();

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

    /// <summary>One pod up: a bundle, the shim, Task Create and Start of the pause.</summary>
    public async Task<Pod> StartAsync(string id)
    {
        var bundle = ShimBench.PauseBundleFor(_template, Path.Combine(_work, id), $"{_cgroupParent}/raw-{id}");
        if (mkfifo(Path.Combine(bundle, "log"), Convert.ToUInt32("600", 8)) != 0)
        {
            throw new IOException($"mkfifo {bundle}/log failed: errno {Marshal.GetLastPInvokeError()}");
        }

        // Read-write and non-blocking: the daemonised shim opens it for writing and must find a reader.
        var logFd = open(Path.Combine(bundle, "log"), 2 | 0x800 | 0x80000, 0);
        var address = await ShimAsync(bundle, id, "start");
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(address.Replace("unix://", "", StringComparison.Ordinal)));
        var pod = new Pod(id, bundle, socket, logFd);
        await pod.CallAsync("Create", Message(w =>
        {
            w.WriteTag(1, WireFormat.WireType.LengthDelimited); w.WriteString(id);
            w.WriteTag(2, WireFormat.WireType.LengthDelimited); w.WriteString(bundle);
            w.WriteTag(10, WireFormat.WireType.LengthDelimited); w.WriteBytes(RuncOptions);
        }));
        await pod.CallAsync("Start", Message(w => { w.WriteTag(1, WireFormat.WireType.LengthDelimited); w.WriteString(id); }));
        return pod;
    }

    /// <summary>One pod down: SIGKILL to the pause, Wait for its exit, Delete, Shutdown, bundle removed. SIGKILL, not
    /// SIGTERM: PID 1 of a pid namespace ignores SIGTERM until it has installed a handler, and this floor does not wait
    /// for that (Isola does, before it reports Ready).</summary>
    public async Task StopAsync(Pod pod)
    {
        var id = Message(w => { w.WriteTag(1, WireFormat.WireType.LengthDelimited); w.WriteString(pod.Id); });
        var wait = pod.CallAsync("Wait", id);
        await pod.CallAsync("Kill", Message(w =>
        {
            w.WriteTag(1, WireFormat.WireType.LengthDelimited); w.WriteString(pod.Id);
            w.WriteTag(3, WireFormat.WireType.Varint); w.WriteUInt32(9);
        }));
        await wait;
        await pod.CallAsync("Delete", id);
        await pod.CallAsync("Shutdown", id, expectHangup: true);
        pod.Dispose();
        Directory.Delete(pod.Bundle, recursive: true);
    }

    // containerd.runc.v1.Options { binary_name = "runc" } in an Any, as Isola sends it.
    private static readonly ByteString RuncOptions = Message(w =>
    {
        w.WriteTag(1, WireFormat.WireType.LengthDelimited); w.WriteString("containerd.runc.v1.Options");
        w.WriteTag(2, WireFormat.WireType.LengthDelimited); w.WriteBytes(Message(o => { o.WriteTag(6, WireFormat.WireType.LengthDelimited); o.WriteString("runc"); }));
    });

    private async Task<string> ShimAsync(string bundle, string id, string action)
    {
        var psi = new ProcessStartInfo("containerd-shim-runc-v2")
        {
            WorkingDirectory = bundle,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var a in new[] { "-namespace", _namespace, "-address", Path.Combine(_work, "containerd.sock"), "-publish-binary", "/bin/true", "-id", id, action })
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
                            while (await Frame.ReadAsync(connection) is { } request)
                            {
                                await Frame.WriteAsync(connection, request.Stream, 2, ByteString.Empty);
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

    private static ByteString Message(Action<CodedOutputStream> write)
    {
        var buffer = new MemoryStream();
        var w = new CodedOutputStream(buffer, leaveOpen: true);
        write(w);
        w.Flush();
        return ByteString.CopyFrom(buffer.ToArray());
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _events.Dispose();
        await _eventsLoop;
        Directory.Delete(_work, recursive: true);
    }

    /// <summary>A running pod of the raw path: its shim connection and bundle.</summary>
    internal sealed class Pod(string id, string bundle, Socket socket, int logFd) : IDisposable
    {
        private readonly SemaphoreSlim _write = new(1, 1);
        private readonly Dictionary<uint, TaskCompletionSource<ByteString?>> _pending = [];
        private uint _next = 1;
        private Task? _reader;

        public string Id => id;

        public string Bundle => bundle;

        /// <summary>One ttrpc request (header: length, stream id, type 1; body: Request{service, method, payload}).</summary>
        public async Task CallAsync(string method, ByteString payload, bool expectHangup = false)
        {
            var done = new TaskCompletionSource<ByteString?>(TaskCreationOptions.RunContinuationsAsynchronously);
            uint stream;
            await _write.WaitAsync();
            try
            {
                stream = _next;
                _next += 2;
                lock (_pending)
                {
                    _pending[stream] = done;
                }

                _reader ??= Task.Run(ReadLoopAsync);
                await Frame.WriteAsync(socket, stream, 1, Message(w =>
                {
                    w.WriteTag(1, WireFormat.WireType.LengthDelimited); w.WriteString(Service);
                    w.WriteTag(2, WireFormat.WireType.LengthDelimited); w.WriteString(method);
                    w.WriteTag(3, WireFormat.WireType.LengthDelimited); w.WriteBytes(payload);
                }));
            }
            finally
            {
                _write.Release();
            }

            var response = await done.Task.WaitAsync(TimeSpan.FromSeconds(30));
            if (response is null && !expectHangup)
            {
                throw new InvalidOperationException($"shim of {id}: connection closed during {method}");
            }

            if (response is not null && StatusCode(response) is var (code, message) && code != 0)
            {
                throw new InvalidOperationException($"shim of {id}: {method} failed: code {code}: {message}");
            }
        }

        private async Task ReadLoopAsync()
        {
            try
            {
                while (await Frame.ReadAsync(socket) is { } frame)
                {
                    TaskCompletionSource<ByteString?>? done;
                    lock (_pending)
                    {
                        _pending.Remove(frame.Stream, out done);
                    }

                    done?.TrySetResult(frame.Payload);
                }
            }
            catch (SocketException)
            {
            }

            lock (_pending)
            {
                foreach (var p in _pending.Values)
                {
                    p.TrySetResult(null);
                }

                _pending.Clear();
            }
        }

        // Response { google.rpc.Status status = 1 { int32 code = 1; string message = 2; } bytes payload = 2; }
        private static (int Code, string Message)? StatusCode(ByteString response)
        {
            var r = new CodedInputStream(response.ToByteArray());
            for (uint tag; (tag = r.ReadTag()) != 0;)
            {
                if (WireFormat.GetTagFieldNumber(tag) != 1)
                {
                    r.SkipLastField();
                    continue;
                }

                var s = new CodedInputStream(r.ReadBytes().ToByteArray());
                var (code, message) = (0, "");
                for (uint t; (t = s.ReadTag()) != 0;)
                {
                    switch (WireFormat.GetTagFieldNumber(t))
                    {
                        case 1: code = s.ReadInt32(); break;
                        case 2: message = s.ReadString(); break;
                        default: s.SkipLastField(); break;
                    }
                }

                return (code, message);
            }

            return null;
        }

        public void Dispose()
        {
            socket.Dispose();
            _ = close(logFd);
        }
    }

    /// <summary>ttrpc framing: a 10-byte header (payload length, stream id, big-endian; message type; flags).</summary>
    private static class Frame
    {
        public static async Task<(uint Stream, ByteString Payload)?> ReadAsync(Socket socket)
        {
            var header = new byte[10];
            if (!await FillAsync(socket, header))
            {
                return null;
            }

            var payload = new byte[BinaryPrimitives.ReadUInt32BigEndian(header)];
            return await FillAsync(socket, payload) ? (BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(4)), ByteString.CopyFrom(payload)) : null;
        }

        public static async Task WriteAsync(Socket socket, uint stream, byte type, ByteString payload)
        {
            var frame = new byte[10 + payload.Length];
            BinaryPrimitives.WriteUInt32BigEndian(frame, (uint)payload.Length);
            BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(4), stream);
            frame[8] = type;
            payload.Span.CopyTo(frame.AsSpan(10));
            await socket.SendAsync(frame);
        }

        private static async Task<bool> FillAsync(Socket socket, byte[] buffer)
        {
            for (var read = 0; read < buffer.Length;)
            {
                var n = await socket.ReceiveAsync(buffer.AsMemory(read));
                if (n == 0)
                {
                    return false;
                }

                read += n;
            }

            return true;
        }
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int mkfifo(string path, uint mode);

    [DllImport("libc", SetLastError = true)]
    private static extern int open(string path, int flags, uint mode);

    [DllImport("libc")]
    private static extern int close(int fd);
}
