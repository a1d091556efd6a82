using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.Extensions.Logging;

namespace Isola.Server.Security;

/// <summary>
/// A Kestrel connection middleware that drops connections from peers whose uid is not allowed, before any HTTP/2 byte
/// is read. The socket file's 0600 mode is the first gate; this one also covers the moment between bind and chmod and
/// sockets reached through a shared directory.
/// </summary>
internal static class PeerUidFilter
{
    public static Func<ConnectionDelegate, ConnectionDelegate> Create(IReadOnlySet<uint> allowed, ILogger logger) =>
        next => async connection =>
        {
            var socket = connection.Features.Get<IConnectionSocketFeature>()?.Socket;
            var uid = socket is null ? null : PeerCredentials.PeerUid(socket);
            if (uid is not { } peer || !allowed.Contains(peer))
            {
                logger.LogWarning("refused a Sandbox API connection from uid {Uid} (allowed: {Allowed})",
                    uid?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "unknown", string.Join(",", allowed));
                connection.Abort(new ConnectionAbortedException("peer uid not allowed"));
                return;
            }

            await next(connection).ConfigureAwait(false);
        };
}
