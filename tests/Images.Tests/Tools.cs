using System.Diagnostics;
using Isola.TestSupport;

namespace Isola.Images.Tests;

/// <summary>The real tools the image tests compare with or drive: umoci, skopeo, docker-registry.</summary>
internal static class Tools
{
    public static string Run(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {file}");
        var error = p.StandardError.ReadToEndAsync();
        var output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return p.ExitCode == 0 ? output : throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited {p.ExitCode}: {error.Result}");
    }

    public static void RequireUmoci() => Peers.Require(("umoci", "umoci"));

    public static void RequireRegistry() => Peers.Require(("docker-registry", "docker-registry"), ("skopeo", "skopeo"));
}
