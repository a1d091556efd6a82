using Isola.TestSupport;

namespace Isola.Images.Tests;

/// <summary>A container's rootfs from an image: an overlay that writes to the container's own layer only.</summary>
public sealed class RootfsTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly IImageStore _store;

    public RootfsTests()
    {
        _store = ImageStores.Open(_dir.Combine("store"));
    }

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Two_containers_of_one_image_write_only_to_their_own_layer_and_unmount_clean()
    {
        var builder = new OciArchiveBuilder();
        var image = builder.AddImage([builder.AddLayer([LayerEntry.Dir("etc/"), LayerEntry.File("etc/motd", "image")])]);
        builder.Name(image.Digest, image.Size, "localhost/rootfs:1");
        var info = Assert.Single(await _store.ImportAsync(builder.WriteArchive(_dir.Combine("image.tar"))));

        var one = await _store.MountRootfsAsync(info, _dir.Combine("c1"), "c1");
        var two = await _store.MountRootfsAsync(info, _dir.Combine("c2"), "c2");
        await File.WriteAllTextAsync(Path.Combine(one, "etc", "motd"), "changed by c1");

        Assert.Equal("image", await File.ReadAllTextAsync(Path.Combine(two, "etc", "motd")));
        Assert.Equal("image", await File.ReadAllTextAsync(Path.Combine(_store.LayerDirectories(info)[0], "etc", "motd")));
        Assert.Equal("changed by c1", await File.ReadAllTextAsync(_dir.Combine("c1", "upper", "etc", "motd")));

        // Removing the image while containers use it keeps their layers.
        await _store.RemoveAsync("localhost/rootfs:1");
        Assert.Equal("image", await File.ReadAllTextAsync(Path.Combine(two, "etc", "motd")));

        await _store.UnmountRootfsAsync(_dir.Combine("c1"), "c1");
        await _store.UnmountRootfsAsync(_dir.Combine("c2"), "c2");
        await _store.UnmountRootfsAsync(_dir.Combine("c2"), "c2");

        Assert.DoesNotContain(File.ReadAllLines("/proc/self/mountinfo"), l => l.Contains(_dir.Path, StringComparison.Ordinal));
        Assert.Empty(Directory.EnumerateFileSystemEntries(_dir.Combine("c1")));
        Assert.Empty(Directory.EnumerateFileSystemEntries(_dir.Combine("store", "snapshots")));
        Assert.Empty(Directory.EnumerateFileSystemEntries(_dir.Combine("store", "leases")));
    }
}
