using System.Text.Json;

namespace Isola.Plugins.Shim.Launcher;

/// <summary>Where a started shim serves the Task API.</summary>
/// <param name="TaskAddress">The address with its protocol, for example "ttrpc+unix:///run/containerd/s/abc".</param>
/// <param name="Version">The Task API version: 2 (containerd 1.x shims) or 3 (containerd 2.x shims).</param>
internal sealed record ShimStartResult(string TaskAddress, uint Version)
{
    /// <summary>
    /// Parses the output of <c>shim start</c>: containerd 1.6/1.7 shims print a bare address (Task API v2), 2.x shims
    /// print JSON {"version":3,"address":"unix:///...","protocol":"ttrpc"}. Output that is not JSON, or JSON with a
    /// version below 2, is a bare ttrpc address of version 2 (containerd's own rule).
    /// </summary>
    public static ShimStartResult Parse(string output, string binary)
    {
        var text = output.Trim();
        if (text.Length == 0)
        {
            throw IsolaException.Internal($"{binary} start printed no address");
        }

        if (text.StartsWith('{'))
        {
            try
            {
                using var doc = JsonDocument.Parse(text);
                var root = doc.RootElement;
                var version = root.TryGetProperty("version", out var v) && v.TryGetUInt32(out var n) ? n : 0;
                if (version >= 2)
                {
                    var address = root.TryGetProperty("address", out var a) ? a.GetString() ?? "" : "";
                    var protocol = root.TryGetProperty("protocol", out var p) ? p.GetString() ?? "ttrpc" : "ttrpc";
                    if (!string.Equals(protocol, "ttrpc", StringComparison.OrdinalIgnoreCase))
                    {
                        throw new IsolaException(IsolaErrorCode.Unimplemented,
                            $"{binary} serves the Task API over '{protocol}' at {address}; only ttrpc is supported");
                    }

                    return new ShimStartResult(WithProtocol(address, binary), version);
                }
            }
            catch (JsonException)
            {
                // not JSON after all: a bare address
            }
        }

        return new ShimStartResult(WithProtocol(text, binary), 2);
    }

    private static string WithProtocol(string address, string binary)
    {
        if (address.StartsWith("ttrpc+", StringComparison.Ordinal))
        {
            return address;
        }

        if (address.StartsWith("unix://", StringComparison.Ordinal) && address.Length > 7)
        {
            return "ttrpc+" + address;
        }

        if (address.StartsWith('/'))
        {
            return "ttrpc+unix://" + address;
        }

        throw IsolaException.Internal($"{binary} start printed an address Isola cannot dial: '{address}'");
    }
}
