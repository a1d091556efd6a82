using Isola.TestSupport;
using System.Formats.Tar;

namespace Isola.Images.Tests;

public sealed class ImportTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly IImageStore _store;

    public ImportTests()
    {
        _store = ImageStores.Open(_dir.Combine("store"));
    }

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task An_oci_archive_imports_under_its_name_with_its_run_defaults_and_unpacked_layers()
    {
        var builder = new OciArchiveBuilder();
        var layer = builder.AddBusyboxLayer();
        var image = builder.AddImage([layer], entrypoint: ["/bin/sh", "-c"], cmd: ["echo hi"], env: ["PATH=/bin", "GREETING=hi"], workingDir: "/work");
        builder.Name(image.Digest, image.Size, "localhost/demo:v1");

        var imported = await _store.ImportAsync(builder.WriteArchive(_dir.Combine("demo.tar")));

        var info = Assert.Single(imported);
        Assert.Equal("localhost/demo:v1", info.Reference);
        Assert.Equal(image.ConfigDigest, info.Id.ToString());
        Assert.Equal(image.Digest, info.ManifestDigest.ToString());
        Assert.Equal(["/bin/sh", "-c"], info.Defaults.Entrypoint);
        Assert.Equal(["echo hi"], info.Defaults.Cmd);
        Assert.Contains("GREETING=hi", info.Defaults.Env);
        Assert.Equal("/work", info.Defaults.WorkingDir);
        var layerDir = Assert.Single(_store.LayerDirectories(info));
        Assert.True(File.Exists(Path.Combine(layerDir, "bin", "busybox")));
        Assert.Equal(new FileInfo(Path.Combine(layerDir, "bin", "busybox")).Length, new FileInfo(Path.Combine(layerDir, "bin", "sh")).Length);
        Assert.Equal(UnixFileMode.StickyBit, File.GetUnixFileMode(Path.Combine(layerDir, "tmp")) & UnixFileMode.StickyBit);

        var stored = await _store.GetAsync("localhost/demo:v1");
        Assert.Equal((info.Id, info.ManifestDigest, info.Size), (stored.Id, stored.ManifestDigest, stored.Size));
        Assert.Equal(info.Layers, stored.Layers);
        Assert.NotNull(await _store.FindAsync(info.Id.Hex[..12]));
        Assert.Single(await _store.ListAsync());
    }

    [Fact]
    public async Task Removing_the_last_image_leaves_no_blob_layer_or_lease_behind()
    {
        var builder = new OciArchiveBuilder();
        var image = builder.AddImage([builder.AddBusyboxLayer()]);
        builder.Name(image.Digest, image.Size, "localhost/demo:v1");
        await _store.ImportAsync(builder.WriteArchive(_dir.Combine("demo.tar")));

        Assert.Equal(["localhost/demo:v1"], await _store.RemoveAsync("localhost/demo:v1"));

        Assert.Empty(await _store.ListAsync());
        Assert.Empty(Directory.EnumerateFileSystemEntries(_dir.Combine("store", "blobs", "sha256")));
        Assert.Empty(Directory.EnumerateFileSystemEntries(_dir.Combine("store", "snapshots")));
        Assert.Empty(Directory.EnumerateFileSystemEntries(_dir.Combine("store", "ingest")));
        var e = await Assert.ThrowsAsync<IsolaException>(() => _store.GetAsync("localhost/demo:v1"));
        Assert.Equal(IsolaErrorCode.NotFound, e.Code);
    }

    [Fact]
    public async Task A_leased_image_keeps_its_layers_after_removal_until_the_lease_ends()
    {
        var builder = new OciArchiveBuilder();
        var image = builder.AddImage([builder.AddBusyboxLayer()]);
        builder.Name(image.Digest, image.Size, "localhost/demo:v1");
        var info = Assert.Single(await _store.ImportAsync(builder.WriteArchive(_dir.Combine("demo.tar"))));
        await _store.LeaseAsync("container-1", info);

        await _store.RemoveAsync("localhost/demo:v1");
        Assert.True(Directory.Exists(_store.LayerDirectories(info)[0]));

        await _store.ReleaseAsync("container-1");
        Assert.False(Directory.Exists(_store.LayerDirectories(info)[0]));
    }

    [Fact]
    public async Task A_corrupted_blob_in_an_archive_is_refused_and_nothing_is_stored()
    {
        var builder = new OciArchiveBuilder();
        var layer = builder.AddBusyboxLayer();
        var image = builder.AddImage([layer]);
        builder.Name(image.Digest, image.Size, "localhost/demo:v1");
        var archive = builder.WriteArchive(_dir.Combine("bad.tar"), (digest, bytes) =>
        {
            if (digest == layer.Digest)
            {
                bytes = (byte[])bytes.Clone();
                bytes[^10] ^= 0xff;
            }

            return bytes;
        });

        var e = await Assert.ThrowsAsync<IsolaException>(() => _store.ImportAsync(archive));

        Assert.Equal(IsolaErrorCode.FailedPrecondition, e.Code);
        Assert.Contains(archive, e.Message, StringComparison.Ordinal);
        Assert.Contains(layer.Digest["sha256:".Length..], e.Message, StringComparison.Ordinal);
        Assert.Empty(await _store.ListAsync());
        Assert.Empty(Directory.EnumerateFileSystemEntries(_dir.Combine("store", "blobs", "sha256")));
        Assert.Empty(Directory.EnumerateFileSystemEntries(_dir.Combine("store", "snapshots")));
        Assert.Empty(Directory.EnumerateFileSystemEntries(_dir.Combine("store", "ingest")));
    }

    [Fact]
    public async Task An_archive_naming_its_image_by_tag_only_needs_a_name()
    {
        var builder = new OciArchiveBuilder();
        var image = builder.AddImage([builder.AddBusyboxLayer()]);
        builder.Name(image.Digest, image.Size, "v2");
        var archive = builder.WriteArchive(_dir.Combine("tagonly.tar"));

        var e = await Assert.ThrowsAsync<IsolaException>(() => _store.ImportAsync(archive));
        Assert.Contains("--name", e.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFileSystemEntries(_dir.Combine("store", "blobs", "sha256")));

        var info = Assert.Single(await _store.ImportAsync(archive, name: "localhost/named"));
        Assert.Equal("localhost/named:v2", info.Reference);
    }

    [Fact]
    public async Task A_docker_save_archive_imports_under_its_repo_tags()
    {
        var archive = OciArchiveBuilder.WriteDockerSave(_dir.Combine("saved.tar"), "example.com/team/app:1.0",
            [[LayerEntry.Dir("etc/"), LayerEntry.File("etc/motd", "one")], [LayerEntry.File("etc/motd", "two")]]);

        var info = Assert.Single(await _store.ImportAsync(archive));

        Assert.Equal("example.com/team/app:1.0", info.Reference);
        Assert.Equal(["/bin/sh"], info.Defaults.Cmd);
        var dirs = _store.LayerDirectories(info);
        Assert.Equal(2, dirs.Count);
        Assert.Equal("two", File.ReadAllText(Path.Combine(dirs[1], "etc", "motd")));
    }

    [Fact]
    public async Task A_layer_without_the_tar_end_blocks_unpacks_whole()
    {
        var builder = new OciArchiveBuilder();
        var image = builder.AddImage([builder.AddLayer([LayerEntry.Dir("etc/"), LayerEntry.File("etc/last", "the end")], endBlocks: false)]);
        builder.Name(image.Digest, image.Size, "localhost/short:1");

        var info = Assert.Single(await _store.ImportAsync(builder.WriteArchive(_dir.Combine("short.tar"))));

        Assert.Equal("the end", File.ReadAllText(Path.Combine(_store.LayerDirectories(info)[0], "etc", "last")));
    }

    [Fact]
    public async Task A_zstd_layer_unpacks()
    {
        var builder = new OciArchiveBuilder();
        var layer = builder.AddCompressedLayer([LayerEntry.Dir("etc/"), LayerEntry.File("etc/zstd", "squeezed")],
            tar => new ZstdSharp.Compressor().Wrap(tar).ToArray(), "application/vnd.oci.image.layer.v1.tar+zstd");
        var image = builder.AddImage([(layer.Digest, layer.Size, layer.DiffId)], layerMediaType: layer.MediaType);
        builder.Name(image.Digest, image.Size, "localhost/zstd:1");

        var info = Assert.Single(await _store.ImportAsync(builder.WriteArchive(_dir.Combine("zstd.tar"))));

        Assert.Equal("squeezed", File.ReadAllText(Path.Combine(_store.LayerDirectories(info)[0], "etc", "zstd")));
    }

    [Fact]
    public async Task A_full_disk_during_an_import_is_a_one_line_error_and_nothing_is_half_stored()
    {
        var small = _dir.Combine("small");
        Directory.CreateDirectory(small);
        Tools.Run("mount", "-t", "tmpfs", "-o", "size=600k", "tmpfs", small);
        var store = ImageStores.Open(Path.Combine(small, "store"));
        var builder = new OciArchiveBuilder();
        var image = builder.AddImage([builder.AddBusyboxLayer()]);
        builder.Name(image.Digest, image.Size, "localhost/big:1");

        var e = await Assert.ThrowsAsync<IsolaException>(() => store.ImportAsync(builder.WriteArchive(_dir.Combine("big.tar"))));

        Assert.Equal(IsolaErrorCode.ResourceExhausted, e.Code);
        Assert.Contains("no space left", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', e.Message);
        Assert.Empty(await store.ListAsync());
        foreach (var dir in new[] { "blobs/sha256", "snapshots", "ingest", "leases" })
        {
            Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(small, "store", dir)));
        }
    }

    [Fact]
    public async Task Not_an_archive_is_a_one_line_error_naming_the_file()
    {
        var file = _dir.Combine("junk.tar");
        await File.WriteAllTextAsync(file, new string('x', 2000));

        var e = await Assert.ThrowsAsync<IsolaException>(() => _store.ImportAsync(file));

        Assert.Equal(IsolaErrorCode.InvalidArgument, e.Code);
        Assert.Contains(file, e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', e.Message);
        var missing = await Assert.ThrowsAsync<IsolaException>(() => _store.ImportAsync(_dir.Combine("nope.tar")));
        Assert.Equal(IsolaErrorCode.NotFound, missing.Code);
    }

    [Theory]
    [InlineData("../escape")]
    [InlineData("a/../../escape")]
    public async Task A_layer_entry_climbing_out_is_refused_and_nothing_is_stored(string name)
    {
        var builder = new OciArchiveBuilder();
        var image = builder.AddImage([builder.AddLayer([LayerEntry.File(name, "x")])]);
        builder.Name(image.Digest, image.Size, "localhost/evil:1");

        var e = await Assert.ThrowsAsync<IsolaException>(() => _store.ImportAsync(builder.WriteArchive(_dir.Combine("evil.tar"))));

        Assert.Contains("'..'", e.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(_dir.Combine("escape")));
        Assert.Empty(Directory.EnumerateFileSystemEntries(_dir.Combine("store", "snapshots")));
        Assert.Empty(Directory.EnumerateFileSystemEntries(_dir.Combine("store", "blobs", "sha256")));
    }

    [Fact]
    public async Task A_layer_writing_through_its_own_symlink_is_refused()
    {
        var outside = _dir.Combine("outside");
        Directory.CreateDirectory(outside);
        var builder = new OciArchiveBuilder();
        var image = builder.AddImage([builder.AddLayer([LayerEntry.Symlink("link", outside), LayerEntry.File("link/planted", "x")])]);
        builder.Name(image.Digest, image.Size, "localhost/evil:2");

        var e = await Assert.ThrowsAsync<IsolaException>(() => _store.ImportAsync(builder.WriteArchive(_dir.Combine("evil.tar"))));

        Assert.Contains("symbolic link", e.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFileSystemEntries(outside));
    }

    [Fact]
    public async Task A_directory_a_layer_replaces_with_a_symlink_is_not_written_through()
    {
        var outside = _dir.Combine("outside2");
        Directory.CreateDirectory(outside);
        var builder = new OciArchiveBuilder();
        var image = builder.AddImage([builder.AddLayer([
            LayerEntry.Dir("d/"), LayerEntry.File("d/first", "x"), LayerEntry.Symlink("d", outside), LayerEntry.File("d/planted", "x")])]);
        builder.Name(image.Digest, image.Size, "localhost/evil:3");

        var e = await Assert.ThrowsAsync<IsolaException>(() => _store.ImportAsync(builder.WriteArchive(_dir.Combine("evil3.tar"))));

        Assert.Contains("symbolic link", e.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFileSystemEntries(outside));
    }

    [Fact]
    public async Task Concurrent_imports_of_the_same_image_both_succeed_with_one_copy()
    {
        var builder = new OciArchiveBuilder();
        var image = builder.AddImage([builder.AddBusyboxLayer()]);
        builder.Name(image.Digest, image.Size, "localhost/demo:v1");
        var archive = builder.WriteArchive(_dir.Combine("demo.tar"));
        var other = ImageStores.Open(_dir.Combine("store"));

        var results = await Task.WhenAll(_store.ImportAsync(archive), other.ImportAsync(archive), _store.ImportAsync(archive));

        Assert.All(results, r => Assert.Equal("localhost/demo:v1", Assert.Single(r).Reference));
        Assert.Single(Directory.EnumerateDirectories(_dir.Combine("store", "snapshots")));
        Assert.Empty(Directory.EnumerateFileSystemEntries(_dir.Combine("store", "ingest")));
        Assert.Empty(Directory.EnumerateFileSystemEntries(_dir.Combine("store", "leases")));
    }
}
