using System.Diagnostics;
using Isola.Plugins.Shim.Controller;
using Isola.Plugins.Shim.Tests.Infrastructure;

namespace Isola.Plugins.Shim.Tests;

/// <summary>The pause is built from Pause/pause.c by the plugin's csproj; no binary of it lives in git.</summary>
[Collection(ShimCollection.Name)]
public sealed class PauseBinaryTests : IAsyncLifetime
{
    private readonly PodHarness _pods = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _pods.DisposeAsync();

    [Fact]
    public void No_executable_binary_is_tracked_under_src()
    {
        var (exit, output) = Run("git", Isola.TestSupport.RepoPaths.Root, "ls-files", "-z", "src");
        Assert.True(exit == 0, "git ls-files failed: " + output);

        var elf = output.Split('\0', StringSplitOptions.RemoveEmptyEntries)
            .Select(f => Path.Combine(Isola.TestSupport.RepoPaths.Root, f))
            .Where(f => File.Exists(f) && IsElf(f))
            .ToList();

        Assert.Empty(elf);
    }

    [Fact]
    public async Task The_pause_a_bundle_gets_by_default_is_what_gcc_builds_from_pause_c()
    {
        var source = Path.Combine(Isola.TestSupport.RepoPaths.Root, "src", "Plugins.Shim");
        var built = Path.Combine(_pods.StateRoot, "isola-pause.expected");
        // The csproj's own command, from the project directory (gcc records the source name it is given).
        var (exit, output) = Run("gcc", source, "-static", "-O2", "-Wall", "-Wextra", "-Werror", "-o", built, "Pause/pause.c");
        Assert.True(exit == 0, "gcc failed: " + output);
        var sandbox = _pods.NewContext();

        await _pods.Controller.CreateAsync(sandbox, CancellationToken.None);
        var inBundle = Path.Combine(RootOf(sandbox), "pause");

        Assert.Equal(await File.ReadAllBytesAsync(built), await File.ReadAllBytesAsync(inBundle));
        await _pods.Controller.ShutdownAsync(sandbox, CancellationToken.None);
    }

    [Fact]
    public async Task Every_pause_runs_the_same_read_only_file_not_a_copy_per_pod()
    {
        var first = await _pods.RunSandboxAsync();
        var second = await _pods.RunSandboxAsync();
        var pids = new[] { first, second }.Select(s => s.ControllerData[ControllerDataKeys.PausePid]).ToList();

        // The executable each pause maps: same device and inode means one copy in the page cache for all pods.
        var inodes = pids.Select(pid => Inode($"/proc/{pid}/exe")).ToList();
        var rootfs = RootOf(first);

        Assert.Equal(rootfs, RootOf(second));
        Assert.DoesNotContain(_pods.StateRoot, rootfs, StringComparison.Ordinal);
        Assert.Equal(inodes[0], inodes[1]);
        Assert.Equal(Inode(Path.Combine(rootfs, "pause")), inodes[0]);
        Assert.False(Directory.Exists(Path.Combine(first.ControllerData[ControllerDataKeys.Bundle], "rootfs")));
        Assert.Equal(UnixFileMode.None, File.GetUnixFileMode(Path.Combine(rootfs, "pause")) & (UnixFileMode.UserWrite | UnixFileMode.GroupWrite | UnixFileMode.OtherWrite));
        // runc wrote nothing into it (its /dev nodes go to the pause's own tmpfs): no pod can disturb another through it.
        Assert.Equal(["dev", "pause", "proc"], Directory.EnumerateFileSystemEntries(rootfs, "*", SearchOption.AllDirectories).Select(e => Path.GetRelativePath(rootfs, e)).Order());
        await _pods.TeardownAsync(first);
        await _pods.TeardownAsync(second);
        Assert.True(File.Exists(Path.Combine(rootfs, "pause")), "the shared pause rootfs must outlive any one pod");
    }

    private static string RootOf(Isola.Controllers.SandboxContext sandbox) =>
        System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(sandbox.ControllerData[ControllerDataKeys.Bundle], "config.json")))!["root"]!["path"]!.GetValue<string>();

    private static string Inode(string path)
    {
        var (exit, output) = Run("stat", "/", "-L", "-c", "%d:%i", path);
        Assert.True(exit == 0, "stat failed: " + output);
        return output.Trim();
    }

    private static bool IsElf(string path)
    {
        Span<byte> magic = stackalloc byte[4];
        using var file = File.OpenRead(path);
        return file.Read(magic) == 4 && magic.SequenceEqual((ReadOnlySpan<byte>)[0x7f, (byte)'E', (byte)'L', (byte)'F']);
    }

    private static (int Exit, string Output) Run(string file, string cwd, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { WorkingDirectory = cwd, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args)
        {
            psi.ArgumentList.Add(arg);
        }

        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        var stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, stdout + stderr.Result);
    }
}
