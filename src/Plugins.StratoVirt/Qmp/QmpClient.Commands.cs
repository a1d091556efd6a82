using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;

namespace Isola.Plugins.StratoVirt.Qmp;

/// <summary>The sending side: one command in flight, one JSON value per write, and giving the connection up when a
/// command's reply does not come in time.</summary>
internal sealed partial class QmpClient
{
    private async Task<JsonNode?> ExecuteOnceAsync(string command, JsonObject? arguments, CancellationToken cancellationToken)
    {
        await _sendLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        Outstanding entry;
        try
        {
            ThrowIfClosed(command);
            var id = "isola-" + Interlocked.Increment(ref _nextId).ToString(System.Globalization.CultureInfo.InvariantCulture);
            var message = new JsonObject { ["execute"] = command };
            if (arguments is not null)
            {
                message["arguments"] = arguments.DeepClone();
            }

            message["id"] = id;
            entry = new Outstanding(id, command);
            lock (_gate)
            {
                _outstanding.AddLast(entry);
            }

            // One JSON value per write: the whole command goes out in a single send.
            var bytes = Encoding.UTF8.GetBytes(message.ToJsonString());
            try
            {
                await _socket.SendAsync(bytes, SocketFlags.None, cancellationToken).ConfigureAwait(false);

                // Wait for this command's reply before letting the next one out (StratoVirt cannot take pipelined commands).
                return await entry.Reply.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (SocketException e)
            {
                Fail($"write failed: {e.Message}");
                throw IsolaException.Unavailable($"QMP '{command}' on {_socketPath}: write failed: {e.Message}", e);
            }
            catch (OperationCanceledException)
            {
                Abandon(command);
                throw;
            }
        }
        finally
        {
            _sendLock.Release();
        }
    }

    /// <summary>Gives up the connection after a command's wait ended without its reply. Keeping it would leave two
    /// hazards: the late reply (StratoVirt omits the id on some) would be matched to the next command, and the next
    /// command would reach a VMM still busy with this one, which StratoVirt cannot take. Closing the socket also lets
    /// the VMM accept the next client (it serves one at a time).</summary>
    private void Abandon(string command)
    {
        _abandoned = true;
        _logger.LogWarning("QMP '{Command}' on {Socket} got no reply in time; closing the connection", command, _socketPath);
        Fail($"'{command}' was abandoned without its reply");
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }
    }

    private void ThrowIfClosed(string command)
    {
        if (_closed.Task.IsCompleted)
        {
            throw IsolaException.Unavailable($"QMP '{command}' on {_socketPath}: connection closed ({_closeReason})");
        }
    }
}
