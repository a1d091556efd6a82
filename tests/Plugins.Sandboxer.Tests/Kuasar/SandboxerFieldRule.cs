using Google.Protobuf;
using Grpc.Core;
using Grpc.Core.Interceptors;

namespace Isola.Plugins.Sandboxer.Tests.Kuasar;

/// <summary>
/// Every Controller request names its sandboxer (v1 field 10, Update field 2; v0 field 1), and the server routes the
/// request by it: containerd's sandbox service picks the proxy plugin, Kuasar the sandboxer instance. A request
/// without it reaches nobody, so the doubles refuse it before any handler runs (and before it is recorded).
/// Looked up by field name through protobuf reflection, so every method of both generations is covered.
/// </summary>
internal sealed class SandboxerFieldRule : Interceptor
{
    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context,
        UnaryServerMethod<TRequest, TResponse> continuation)
    {
        if (request is IMessage message && message.Descriptor.FindFieldByName("sandboxer") is { } field &&
            string.IsNullOrEmpty(field.Accessor.GetValue(message) as string))
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument,
                $"{context.Method}: the sandboxer field is empty; requests are routed by it"));
        }

        return continuation(request, context);
    }
}
