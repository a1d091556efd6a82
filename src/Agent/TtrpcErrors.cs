using Isola.Ttrpc;
using Isola.Ttrpc.Server;

namespace Isola.Agent;

/// <summary>The agent's edge to the ttrpc library: handlers throw <see cref="IsolaException"/>s, and the host reads
/// their codes back from the response status (NotFound, AlreadyExists, Unimplemented, ...).</summary>
internal static class TtrpcErrors
{
    /// <summary>For <see cref="TtrpcServer.ErrorStatus"/>: an Isola error's code through <see cref="IsolaErrorCodes"/>;
    /// null for anything else, which the server's own rules answer.</summary>
    public static TtrpcStatusCode? StatusOf(Exception e) =>
        e is IsolaException isola ? (TtrpcStatusCode)IsolaErrorCodes.ToGrpc(isola.Code) : null;
}
