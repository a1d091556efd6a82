using System.Buffers.Binary;
using System.Net.Sockets;
using Google.Protobuf;

namespace Isola.Bench;

/// <summary>A running pod of the raw path: its shim connection and bundle.</summary>
internal sealed class RawShimPod(string id, string bundle, Socket socket, int logFd) : IDisposable
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
            await RawTtrpcFrame.WriteAsync(socket, stream, 1, RawTtrpcFrame.Message(w =>
            {
                w.WriteTag(1, WireFormat.WireType.LengthDelimited); w.WriteString(RawShimPath.Service);
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
            while (await RawTtrpcFrame.ReadAsync(socket) is { } frame)
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
        _ = RawShimPath.close(logFd);
    }
}

/// <summary>ttrpc framing: a 10-byte header (payload length, stream id, big-endian; message type; flags).</summary>
internal static class RawTtrpcFrame
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

    /// <summary>A protobuf message written field by field.</summary>
    public static ByteString Message(Action<CodedOutputStream> write)
    {
        var buffer = new MemoryStream();
        var w = new CodedOutputStream(buffer, leaveOpen: true);
        write(w);
        w.Flush();
        return ByteString.CopyFrom(buffer.ToArray());
    }
}
