using Grpc.Core;

namespace Isola.Server.Services;

/// <summary>Isola errors as gRPC statuses; the codes share their numbering, so the mapping is the identity.</summary>
internal static class RpcStatus
{
    public static RpcException From(IsolaException e) => new(new Status((StatusCode)(int)e.Code, e.Message));

    public static RpcException InvalidArgument(string message) => new(new Status(StatusCode.InvalidArgument, message));
}
