using System.Globalization;
using System.Text;
using Microsoft.Extensions.Configuration;

namespace Isola.Plugins.Sandboxer.Configuration;

/// <summary>A runtime handler's options for the sandboxer controller, bound and validated at host start.</summary>
/// <param name="SocketPath">The Unix socket the Sandbox API server listens on.</param>
/// <param name="Sandboxer">The name sent in every request's <c>sandboxer</c> field.</param>
/// <param name="Api">The wire generation to speak.</param>
/// <param name="Timeout">The gRPC deadline of every call but Wait.</param>
internal sealed record SandboxerOptions(string SocketPath, string Sandboxer, ApiSelection Api, TimeSpan Timeout)
{
    /// <summary>The deadline when the Timeout key is absent: Kuasar's Start alone may wait 45 s for the guest agent.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(60);

    private const int MaxSocketPathBytes = 107;

    /// <summary>Binds <paramref name="options"/>; throws InvalidArgument naming the offending key.</summary>
    public static SandboxerOptions Bind(IConfiguration options, string configPath, string runtimeName)
    {
        var address = options["Address"];
        if (string.IsNullOrWhiteSpace(address))
        {
            throw IsolaException.InvalidArgument(
                $"{configPath}:Address is required: the sandboxer's socket, for example unix:///run/vmm-sandboxer.sock");
        }

        var path = ParseAddress(address, $"{configPath}:Address");
        var sandboxer = options["Sandboxer"];
        if (sandboxer is not null && sandboxer.Any(char.IsControl))
        {
            throw IsolaException.InvalidArgument($"{configPath}:Sandboxer '{sandboxer}' contains control characters");
        }

        var api = options["Api"]?.Trim().ToLowerInvariant() switch
        {
            null or "" or "auto" => ApiSelection.Auto,
            "v0" => ApiSelection.V0,
            "v1" => ApiSelection.V1,
            var other => throw IsolaException.InvalidArgument($"{configPath}:Api '{other}' is not one of auto, v0, v1"),
        };

        var timeout = DefaultTimeout;
        var rawTimeout = options["Timeout"];
        if (!string.IsNullOrWhiteSpace(rawTimeout)
            && (!TimeSpan.TryParse(rawTimeout, CultureInfo.InvariantCulture, out timeout) || timeout <= TimeSpan.Zero))
        {
            throw IsolaException.InvalidArgument($"{configPath}:Timeout '{rawTimeout}' is not a positive time span such as 00:00:30");
        }

        return new SandboxerOptions(path, string.IsNullOrEmpty(sandboxer) ? runtimeName : sandboxer, api, timeout);
    }

    /// <summary>Accepts "unix:///abs/path" or "/abs/path" (iSulad's and containerd's spellings).</summary>
    internal static string ParseAddress(string address, string key)
    {
        const string scheme = "unix://";
        var path = address.StartsWith(scheme, StringComparison.OrdinalIgnoreCase) ? address[scheme.Length..] : address;
        if (!path.StartsWith('/'))
        {
            throw IsolaException.InvalidArgument($"{key} '{address}' must be unix:///absolute/path or an absolute path");
        }

        if (Encoding.UTF8.GetByteCount(path) > MaxSocketPathBytes)
        {
            throw IsolaException.InvalidArgument($"{key} '{address}' is longer than the {MaxSocketPathBytes} bytes a Unix socket path may have");
        }

        return path;
    }
}
