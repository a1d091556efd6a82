namespace Isola.Executors;

/// <summary>
/// A parsed task address. "ttrpc+unix:///run/s.sock" has scheme "ttrpc+unix" and target "/run/s.sock";
/// "ttrpc+vsock://3:1024" has target "3:1024"; a bare absolute path is scheme "unix".
/// The scheme selects the executor; <see cref="Version"/> selects the Task service (2 or 3).
/// </summary>
/// <param name="Address">The address as the controller reported it.</param>
/// <param name="Scheme">The part before "://", lower-case.</param>
/// <param name="Target">The part after "://".</param>
/// <param name="Version">The Task API version (2 or 3).</param>
public sealed record TaskEndpoint(string Address, string Scheme, string Target, uint Version)
{
    /// <summary>Parses <paramref name="address"/>; throws <see cref="IsolaErrorCode.InvalidArgument"/> naming it when malformed.</summary>
    public static TaskEndpoint Parse(string address, uint version)
    {
        if (string.IsNullOrWhiteSpace(address))
        {
            throw IsolaException.InvalidArgument("empty task address: the sandbox has not reported where its Task API is served");
        }

        if (address.StartsWith('/'))
        {
            return new TaskEndpoint(address, "unix", address, version == 0 ? 2 : version);
        }

        var sep = address.IndexOf("://", StringComparison.Ordinal);
        if (sep <= 0 || sep + 3 >= address.Length)
        {
            throw IsolaException.InvalidArgument($"malformed task address '{address}': expected scheme://target");
        }

        return new TaskEndpoint(address, address[..sep].ToLowerInvariant(), address[(sep + 3)..], version == 0 ? 2 : version);
    }
}
