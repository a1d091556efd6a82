using System.Diagnostics;
using Isola.TestSupport;

namespace Isola.Integration.Tests.Vm;

/// <summary>Small helpers the VM tests share.</summary>
internal static class VmTools
{
    /// <summary>Runs a host tool (mkfs.ext4, say) and fails the test with its stderr if it fails.</summary>
    public static void Run(string file, params string[] args)
    {
        if (Peers.Which(file) is null)
        {
            throw new InvalidOperationException($"{file} is missing: apt-get install e2fsprogs (scripts/setup does)");
        }

        using var p = Process.Start(new ProcessStartInfo(file, args) { RedirectStandardError = true })!;
        var error = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"{file} {string.Join(' ', args)} failed: {error}");
    }

    /// <summary>Polls <paramref name="condition"/> every 100 ms, failing after <paramref name="timeout"/> (30 s by default).</summary>
    public static async Task WaitForAsync(Func<bool> condition, string what, TimeSpan? timeout = null)
    {
        var until = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < until, $"timed out waiting for {what}");
            await Task.Delay(100);
        }
    }
}
