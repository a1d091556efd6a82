using System.Threading.Channels;
using Isola.Ttrpc.Wire;

namespace Isola.Ttrpc.Client;

/// <summary>A stream the client opened and is waiting on: its final Response and, for streaming calls, Data frames.</summary>
internal sealed class PendingCall
{
    public PendingCall(bool streaming)
    {
        Data = streaming ? Channel.CreateUnbounded<ReadOnlyMemory<byte>>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true }) : null;
    }

    /// <summary>Completed by the reader loop when the server's Response arrives, or failed when the call cannot finish.</summary>
    public TaskCompletionSource<Response> Response { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Data frames from the server; null for unary calls.</summary>
    public Channel<ReadOnlyMemory<byte>>? Data { get; }

    public void Complete(Response response)
    {
        Data?.Writer.TryComplete();
        Response.TrySetResult(response);
    }

    public void Fail(Exception error)
    {
        Data?.Writer.TryComplete(error);
        Response.TrySetException(error);
    }
}
