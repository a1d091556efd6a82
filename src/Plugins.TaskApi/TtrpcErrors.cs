using Isola.Ttrpc;

namespace Isola.Plugins.TaskApi;

/// <summary>The plugin's edge: ttrpc's own errors leave it as <see cref="IsolaException"/>s, which the host acts on
/// (Unavailable marks a sandbox Pending, NotFound counts as gone).</summary>
internal static class TtrpcErrors
{
    /// <summary>The same failure as an Isola error: the code through <see cref="IsolaErrorCodes"/>, the message and the
    /// cause unchanged (the ttrpc exception itself is not kept in the chain, which would only repeat its message).</summary>
    public static IsolaException ToIsola(this TtrpcException e) =>
        new(IsolaErrorCodes.FromGrpc((int)e.Code), e.Message, e.InnerException);
}
