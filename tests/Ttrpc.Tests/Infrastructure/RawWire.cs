using System.Diagnostics;
using System.Net.Sockets;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Isola.Ttrpc.Client;
using Isola.Ttrpc.Framing;
using Isola.Ttrpc.Server;
using Isola.Ttrpc.Transports;
using Isola.Ttrpc.Wire;

namespace Isola.Ttrpc.Tests;

/// <summary>Frame-level helpers for tests that play a raw ttrpc peer.</summary>
internal static class RawWire
{
    public static Socket Listen(string path)
    {
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen(4);
        return listener;
    }

    public static async Task WriteFrameAsync(Stream s, uint id, FrameType type, byte[] data)
    {
        var header = new byte[FrameHeader.Size];
        new FrameHeader((uint)data.Length, id, type, 0).Write(header);
        await s.WriteAsync(header);
        await s.WriteAsync(data);
    }

    public static async Task<(FrameHeader Header, byte[] Data)> ReadFrameAsync(Stream s)
    {
        var header = new byte[FrameHeader.Size];
        await s.ReadExactlyAsync(header);
        var h = FrameHeader.Read(header);
        var data = new byte[h.Length];
        await s.ReadExactlyAsync(data);
        return (h, data);
    }

    public static async Task<(uint Id, Response Response)> ReadResponseAsync(Stream s)
    {
        var (h, data) = await ReadFrameAsync(s);
        Assert.Equal(FrameType.Response, h.Type);
        return (h.StreamId, Response.Parser.ParseFrom(data));
    }
}
