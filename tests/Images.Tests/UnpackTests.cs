using Isola.TestSupport;
using System.Formats.Tar;
using System.Security.Cryptography;

namespace Isola.Images.Tests;

/// <summary>Layers unpacked for overlayfs, mounted the way a container's rootfs is, against umoci's unpack of the
/// same image: an independent implementation of the same spec.</summary>
public sealed class UnpackTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task A_two_layer_image_with_a_deletion_and_an_opaque_directory_mounts_to_the_tree_umoci_unpacks()
    {
        Tools.RequireUmoci();
        var builder = new OciArchiveBuilder();
        var lower = builder.AddLayer([
            LayerEntry.Dir("a/"), LayerEntry.File("a/x", "x"), LayerEntry.File("a/y", "y"), LayerEntry.Dir("a/sub/"), LayerEntry.File("a/sub/deep", "d"),
            LayerEntry.File("del", "gone soon"), LayerEntry.Dir("keep/"), LayerEntry.File("keep/k", "k"),
            LayerEntry.Symlink("link", "a/x"), LayerEntry.HardLink("hard", "keep/k"),
            LayerEntry.File("run.sh", "#!/bin/sh", (UnixFileMode)0b111_101_101 | UnixFileMode.SetUser),
        ]);
        var upper = builder.AddLayer([
            LayerEntry.File(".wh.del", ""), LayerEntry.Dir("a/"), LayerEntry.File("a/.wh..wh..opq", ""), LayerEntry.File("a/z", "z"),
            LayerEntry.File("keep/k2", "k2"), LayerEntry.File("keep/.wh.k", ""),
        ]);
        var image = builder.AddImage([lower, upper]);
        builder.Name(image.Digest, image.Size, "v1");
        var layout = builder.WriteLayout(_dir.Combine("layout"));
        Tools.Run("umoci", "unpack", "--image", layout + ":v1", _dir.Combine("umoci"));

        var store = ImageStores.Open(_dir.Combine("store"));
        var info = Assert.Single(await store.ImportAsync(builder.WriteArchive(_dir.Combine("image.tar")), name: "localhost/two"));
        var layers = store.LayerDirectories(info);
        var merged = _dir.Combine("merged");
        Directory.CreateDirectory(merged);
        Tools.Run("mount", "-t", "overlay", "overlay", "-o", "ro,lowerdir=" + string.Join(':', layers.Reverse()), merged);

        var ours = Tree(merged);
        var theirs = Tree(_dir.Combine("umoci", "rootfs"));
        Assert.Equal(theirs, ours);
        Assert.DoesNotContain("/del", ours.Keys);
        Assert.DoesNotContain("/a/x", ours.Keys);
        Assert.Contains("/a/z", ours.Keys);
        Assert.DoesNotContain("/keep/k", ours.Keys);

        // The overlay form itself: a whiteout device and an opaque mark in the upper layer.
        Assert.Equal("character device 0/0", Xattr.Describe(Path.Combine(layers[1], "del")));
        Assert.Equal("y", Xattr.Get(Path.Combine(layers[1], "a"), "trusted.overlay.opaque"));
    }

    /// <summary>Every entry under <paramref name="root"/>: type, permission bits, owner, and content or link target.</summary>
    private static SortedDictionary<string, string> Tree(string root)
    {
        var tree = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var path in Directory.EnumerateFileSystemEntries(root, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 }))
        {
            var info = new FileInfo(path);
            string Mode() => Convert.ToString((int)File.GetUnixFileMode(path), 8);
            var what = info.LinkTarget is { } target ? "link -> " + target
                : Directory.Exists(path) ? "dir " + Mode()
                : "file " + Mode() + " " + Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)));
            tree[path[root.Length..]] = what;
        }

        return tree;
    }
}
