using Isola.Plugins.StratoVirt.Controller;

namespace Isola.Plugins.StratoVirt.Tests.Controller;

/// <summary>Output files carried into a VM's share: the same inode as the host's file, whichever mount it is on, and
/// nothing the guest plants in the share (it can write there) steers the host.</summary>
public sealed class SharedStdioTests : IDisposable
{
    private readonly string _work = Directory.CreateTempSubdirectory("isola-stdio-").FullName;
    private readonly string _elsewhere = Directory.CreateTempSubdirectory("isola-stdio-").FullName.Replace("/tmp/", "/dev/shm/", StringComparison.Ordinal);

    public SharedStdioTests()
    {
        Directory.CreateDirectory(_elsewhere);
    }

    public void Dispose()
    {
        foreach (var dir in new[] { _work, _elsewhere })
        {
            foreach (var file in Directory.Exists(dir) ? Directory.GetFiles(dir, "*", SearchOption.AllDirectories) : [])
            {
                ContainerRootfs.DetachFileMount("test", file);
            }

            if (Directory.Exists(dir))
            {
                Directory.Delete(dir, recursive: true);
            }
        }
    }

    [Fact]
    public void Stdin_is_streamed_over_the_agent_channel_while_outputs_stay_files_in_the_share()
    {
        var bundle = Directory.CreateDirectory(Path.Combine(_work, "shared", "c3")).FullName;
        var stdin = Path.Combine(_work, "in.txt");

        var guest = SharedStdio.Translate("sb", "ttrpc+unix:///s/agent.sock", "c3", "e1", new StdioSpec(stdin, Path.Combine(_work, "c3.out"), ""), bundle);

        Assert.Equal("ttrpc+unix:///s/agent.sock?streaming_id=c3+e1-stdin", guest.Stdin);
        Assert.Equal("file:///run/kuasar/state/c3/c3.out", guest.Stdout);
        Assert.Equal("", guest.Stderr);
    }

    [Fact]
    public void An_output_on_another_mount_is_bound_onto_its_twin_and_the_callers_file_outlives_the_bundle()
    {
        var bundle = Directory.CreateDirectory(Path.Combine(_work, "shared", "c1")).FullName;
        var hostOut = Path.Combine(_elsewhere, "engine.out");
        File.WriteAllText(hostOut, "before\n");

        var guest = SharedStdio.Translate("sb", "ttrpc+unix:///agent.sock", "c1", null, new StdioSpec("", "file://" + hostOut, ""), bundle);
        File.AppendAllText(Path.Combine(bundle, "engine.out"), "from the guest\n");
        ContainerRootfs.RemoveBundle("sb", bundle);

        Assert.Equal("file:///run/kuasar/state/c1/engine.out", guest.Stdout);
        Assert.Equal("before\nfrom the guest\n", File.ReadAllText(hostOut));
        Assert.False(File.GetAttributes(hostOut).HasFlag(FileAttributes.ReparsePoint), "the caller's file must not be replaced by a link");
        Assert.False(Directory.Exists(bundle));
    }

    [Fact]
    public void A_bundle_the_guest_replaced_by_a_link_is_unlinked_and_never_followed()
    {
        var shared = Directory.CreateDirectory(Path.Combine(_work, "shared")).FullName;
        var victim = Directory.CreateDirectory(Path.Combine(_work, "host-dir")).FullName;
        File.WriteAllText(Path.Combine(victim, "config.json"), "precious");
        Directory.CreateSymbolicLink(Path.Combine(shared, "c1"), victim);

        ContainerRootfs.RemoveBundle("sb", Path.Combine(shared, "c1"));
        var refused = Assert.Throws<IsolaException>(() =>
            SharedStdio.Translate("sb", "ttrpc+unix:///agent.sock", "c2", null, new StdioSpec("", "file://" + Path.Combine(_work, "out", "config.json"), ""), Path.Combine(shared, "c2")));

        Assert.Equal("precious", File.ReadAllText(Path.Combine(victim, "config.json")));
        Assert.False(Path.Exists(Path.Combine(shared, "c1")));
        Assert.Equal(IsolaErrorCode.InvalidArgument, refused.Code);
        Assert.Contains("c2", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Exec_files_are_removed_only_for_a_valid_exec_id()
    {
        var bundle = Directory.CreateDirectory(Path.Combine(_work, "shared", "c1")).FullName;
        File.WriteAllText(Path.Combine(bundle, "exec-e1.stdout.log"), "");

        var traversal = Assert.Throws<IsolaException>(() => SharedStdio.RemoveExecFiles("sb", bundle, "x/../../*"));
        SharedStdio.RemoveExecFiles("sb", bundle, "e1");

        Assert.Equal(IsolaErrorCode.InvalidArgument, traversal.Code);
        Assert.False(File.Exists(Path.Combine(bundle, "exec-e1.stdout.log")));
    }
}
