using Microsoft.Extensions.Configuration;

namespace Isola.Hosting.Networks;

/// <summary>
/// <c>Isola:Networks</c>: where CNI network configurations (<c>ConfigDir</c>, default <c>/etc/isola/net.d</c>) and
/// plugins (<c>PluginDirs</c>, colon-separated, default <c>/usr/lib/cni:/opt/cni/bin</c>, Debian's place first) are,
/// and which network <c>--network pod</c> joins (<c>Default</c>, default the built-in <c>isola</c>).
/// </summary>
internal sealed record NetworkSettings(string ConfigDir, IReadOnlyList<string> PluginDirs, string DefaultNetwork)
{
    public static NetworkSettings Read(IConfiguration configuration)
    {
        var section = configuration.GetSection("Isola:Networks");
        return new NetworkSettings(
            section["ConfigDir"] is { Length: > 0 } dir ? dir : "/etc/isola/net.d",
            (section["PluginDirs"] is { Length: > 0 } dirs ? dirs : "/usr/lib/cni:/opt/cni/bin").Split(':', StringSplitOptions.RemoveEmptyEntries),
            section["Default"] is { Length: > 0 } name ? name : CniNetwork.DefaultName);
    }
}
