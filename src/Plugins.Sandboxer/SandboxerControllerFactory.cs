using System.Collections.Concurrent;
using Isola.Controllers;
using Isola.Plugins.Sandboxer.Configuration;
using Isola.Plugins.Sandboxer.Transport;
using Microsoft.Extensions.Logging;

namespace Isola.Plugins.Sandboxer;

/// <summary>
/// The <c>sandboxer</c> controller kind. Options: <c>Address</c> (unix:///path or /path, required),
/// <c>Sandboxer</c> (the name sent in requests; default the runtime handler's name), <c>Api</c> (auto|v0|v1,
/// default auto) and <c>Timeout</c> (per-call deadline, default 00:01:00).
/// </summary>
internal sealed class SandboxerControllerFactory : ISandboxControllerFactory
{
    // Handlers naming the same socket share one channel and one generation probe.
    private readonly ConcurrentDictionary<string, SandboxerEndpoint> _endpoints = new(StringComparer.Ordinal);

    public string Name => "sandboxer";

    public ISandboxController Create(ControllerContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var options = SandboxerOptions.Bind(context.Options, context.ConfigPath, context.RuntimeName);
        var endpoint = _endpoints.GetOrAdd(options.SocketPath, static path => new SandboxerEndpoint(path));
        return new SandboxerController(options, endpoint, context.RuntimeName,
            context.LoggerFactory.CreateLogger("Isola.Plugins.Sandboxer." + context.RuntimeName));
    }
}
