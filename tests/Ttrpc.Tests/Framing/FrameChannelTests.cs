using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Isola.Ttrpc.Framing;

namespace Isola.Ttrpc.Tests.Framing;

/// <summary>A message encoded straight into the frame buffer is the same frame as its encoded bytes.</summary>
public sealed class FrameChannelTests
{
    [Fact]
    public async Task Writing_a_message_gives_the_same_frame_as_writing_its_bytes_and_refuses_oversize()
    {
        var message = new StringValue { Value = new string('x', 70_000) };
        var fromBytes = new MemoryStream();
        var fromMessage = new MemoryStream();
        await using (var a = new FrameChannel(fromBytes))
        {
            await a.WriteAsync(5, FrameType.Request, 1, message.ToByteArray(), CancellationToken.None);
        }

        var channel = new FrameChannel(fromMessage);
        await channel.WriteAsync(5, FrameType.Request, 1, message, CancellationToken.None);
        var big = new BytesValue { Value = ByteString.CopyFrom(new byte[FrameHeader.MaxDataLength]) };
        var e = await Assert.ThrowsAsync<TtrpcException>(() => channel.WriteAsync(7, FrameType.Request, 0, big, CancellationToken.None));

        Assert.Equal(fromBytes.ToArray(), fromMessage.ToArray());
        Assert.Equal(TtrpcStatusCode.ResourceExhausted, e.Code);
    }
}
