namespace Isola.Plugins.Shim.Controller;

/// <summary>The pod's hostname when the caller gave none: its name, made to fit. Names allow up to 64 characters and
/// '_', hostnames 63 and no '_', so a valid name must not become an invalid hostname the caller never asked for.</summary>
internal static class PodHostname
{
    /// <summary>The longest hostname accepted (one DNS label).</summary>
    public const int MaxLength = 63;

    /// <summary><paramref name="name"/> with characters a hostname cannot hold turned into '-', cut to
    /// <see cref="MaxLength"/>, without leading or trailing '-' and '.'; "pod" if nothing is left.</summary>
    public static string FromName(string name)
    {
        var chars = name.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.' ? c : '-').Take(MaxLength).ToArray();
        var hostname = new string(chars).Trim('-', '.');
        return hostname.Length > 0 ? hostname : "pod";
    }

}
