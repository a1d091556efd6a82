namespace Isola.Ttrpc.Framing;

/// <summary>The message type byte of a ttrpc frame header.</summary>
internal enum FrameType : byte
{
    /// <summary>A <c>ttrpc.Request</c> opening a stream.</summary>
    Request = 0x01,

    /// <summary>A <c>ttrpc.Response</c> closing a stream.</summary>
    Response = 0x02,

    /// <summary>Raw data on an open stream.</summary>
    Data = 0x03,
}

/// <summary>Flag bits of a ttrpc frame header; their meaning depends on the frame type.</summary>
internal static class FrameFlags
{
    /// <summary>Request/Data: the sender will send no more data on this stream.</summary>
    public const byte RemoteClosed = 0x01;

    /// <summary>Request: the client will stream Data frames after the request.</summary>
    public const byte RemoteOpen = 0x02;

    /// <summary>Data: the frame carries no data (used to close the send side).</summary>
    public const byte NoData = 0x04;
}
