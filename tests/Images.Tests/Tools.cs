using Isola.TestSupport;

namespace Isola.Images.Tests;

/// <summary>The real tools the image tests compare with or drive: umoci, skopeo, docker-registry.</summary>
internal static class Tools
{
    public static string Run(string file, params string[] args) => Processes.Run(file, args);

    public static void RequireUmoci() => Peers.Require(("umoci", "umoci"));

    public static void RequireRegistry() => Peers.Require(("docker-registry", "docker-registry"), ("skopeo", "skopeo"));
}
