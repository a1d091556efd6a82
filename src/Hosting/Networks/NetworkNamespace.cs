using System.Diagnostics;

namespace Isola.Hosting.Networks;

/// <summary>
/// Named network namespaces under <c>/run/netns</c>, made and removed with iproute2's <c>ip netns</c> (the same
/// files <c>ip netns exec</c> and CNI plugins use). Names are built from validated sandbox ids and passed as
/// arguments, never through a shell.
/// </summary>
internal static class NetworkNamespace
{
    public const string Directory = "/run/netns";

    public static string PathOf(string name) => Path.Combine(Directory, name);

    public static bool Exists(string name) => File.Exists(PathOf(name));

    public static async Task CreateAsync(string name, CancellationToken cancellationToken)
    {
        if (!Exists(name))
        {
            await IpAsync(cancellationToken, "netns", "add", name).ConfigureAwait(false);
        }

        // The namespace's loopback, as a pod expects it (CNI's loopback plugin does only this).
        await IpAsync(cancellationToken, "-n", name, "link", "set", "lo", "up").ConfigureAwait(false);
    }

    /// <summary>Removes the namespace; one that is already gone is not an error.</summary>
    public static async Task DeleteAsync(string name, CancellationToken cancellationToken)
    {
        if (Exists(name))
        {
            await IpAsync(cancellationToken, "netns", "delete", name).ConfigureAwait(false);
        }
    }

    private static async Task IpAsync(CancellationToken cancellationToken, params string[] args)
    {
        var start = new ProcessStartInfo("ip") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }

        Process process;
        try
        {
            process = Process.Start(start)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw IsolaException.FailedPrecondition($"pod networks need iproute2's 'ip' command ({e.Message}): install the Debian package iproute2");
        }

        using (process)
        {
            var error = process.StandardError.ReadToEndAsync(cancellationToken);
            await process.StandardOutput.ReadToEndAsync(cancellationToken).ConfigureAwait(false);
            await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
            if (process.ExitCode != 0)
            {
                throw IsolaException.Internal($"ip {string.Join(' ', args)}: {(await error.ConfigureAwait(false)).Trim()}");
            }
        }
    }
}
