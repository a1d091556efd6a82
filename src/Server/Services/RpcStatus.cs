using Grpc.Core;

namespace Isola.Server.Services;

/// <summary>Isola errors as gRPC statuses, through <see cref="IsolaErrorCodes"/>.</summary>
internal static class RpcStatus
{
    public static RpcException From(IsolaException e) => new(new Status((StatusCode)IsolaErrorCodes.ToGrpc(e.Code), e.Message));

    public static RpcException InvalidArgument(string message) => new(new Status(StatusCode.InvalidArgument, message));
}
