using Isola.TestSupport;
namespace Isola.Images.Tests;

/// <summary>Pulls from a real registry (Debian's docker-registry on loopback) holding images skopeo pushed.</summary>
public sealed class RegistryTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task An_image_pulls_by_tag_and_by_digest_with_its_layers_unpacked()
    {
        using var registry = new RegistryServer(_dir.Combine("registry"));
        var (archive, image) = BusyboxArchive("v1");
        registry.Push(archive, "v1", "team/demo");
        var store = ImageStores.Open(_dir.Combine("store"));
        var progress = new List<PullProgress>();

        var byTag = await store.PullAsync($"{registry.Host}/team/demo:v1", new SyncProgress(progress));
        var byDigest = await store.PullAsync($"{registry.Host}/team/demo@{byTag.ManifestDigest}");

        Assert.Equal($"{registry.Host}/team/demo:v1", byTag.Reference);
        Assert.Equal(image.ConfigDigest, byTag.Id.ToString());
        Assert.Equal(byTag.Id, byDigest.Id);
        Assert.Equal($"{registry.Host}/team/demo@{byTag.ManifestDigest}", byDigest.Reference);
        Assert.True(File.Exists(Path.Combine(store.LayerDirectories(byTag)[0], "bin", "busybox")));
        Assert.Contains(progress, p => p is { What: "layer", Done: true });
        Assert.Equal(2, (await store.ListAsync()).Count);
    }

    [Fact]
    public async Task An_index_with_several_platforms_pulls_the_linux_amd64_image()
    {
        using var registry = new RegistryServer(_dir.Combine("registry"));
        var builder = new OciArchiveBuilder();
        var arm = builder.AddImage([builder.AddLayer([LayerEntry.File("arch", "arm64")])], architecture: "arm64");
        var amd = builder.AddImage([builder.AddLayer([LayerEntry.File("arch", "amd64")])], architecture: "amd64");
        var index = builder.AddIndex((arm.Digest, arm.Size, "arm64"), (amd.Digest, amd.Size, "amd64"));
        builder.Name(index.Digest, index.Size, "multi", isIndex: true);
        registry.Push(builder.WriteArchive(_dir.Combine("multi.tar")), "multi", "team/multi", all: true);
        var store = ImageStores.Open(_dir.Combine("store"));

        var info = await store.PullAsync($"{registry.Host}/team/multi:multi");

        Assert.Equal(amd.ConfigDigest, info.Id.ToString());
        Assert.Equal("amd64", File.ReadAllText(Path.Combine(store.LayerDirectories(info)[0], "arch")));
    }

    [Fact]
    public async Task Basic_credentials_are_required_and_checked()
    {
        using var registry = new RegistryServer(_dir.Combine("registry"), authenticated: true);
        var (archive, image) = BusyboxArchive("v1");
        registry.Push(archive, "v1", "private/app");
        var reference = $"{registry.Host}/private/app:v1";

        var none = await Assert.ThrowsAsync<IsolaException>(() => ImageStores.Open(_dir.Combine("s1")).PullAsync(reference));
        var wrong = await Assert.ThrowsAsync<IsolaException>(() => ImageStores.Open(_dir.Combine("s2"), Credentials(registry.Host, "wrong")).PullAsync(reference));
        var info = await ImageStores.Open(_dir.Combine("s3"), Credentials(registry.Host, RegistryServer.Password)).PullAsync(reference);

        Assert.Contains($"Images:Registries:{registry.Host}:Username", none.Message, StringComparison.Ordinal);
        Assert.Contains("refused the credentials of user 'isola'", wrong.Message, StringComparison.Ordinal);
        Assert.Equal(image.ConfigDigest, info.Id.ToString());
        Assert.Empty(Directory.EnumerateFileSystemEntries(_dir.Combine("s2", "blobs", "sha256")));
    }

    [Fact]
    public async Task A_bearer_token_challenge_is_answered_from_the_token_service()
    {
        using var registry = new RegistryServer(_dir.Combine("registry"));
        var (archive, image) = BusyboxArchive("v1");
        registry.Push(archive, "v1", "team/tok");
        using var front = new TokenServiceFront(RegistryServer.User, RegistryServer.Password);

        var wrong = await Assert.ThrowsAsync<IsolaException>(() => ImageStores.Open(_dir.Combine("s1"), Credentials(registry.Host, "nope"), front).PullAsync($"{registry.Host}/team/tok:v1"));
        var info = await ImageStores.Open(_dir.Combine("s2"), Credentials(registry.Host, RegistryServer.Password), front).PullAsync($"{registry.Host}/team/tok:v1");

        Assert.Contains("refused the credentials", wrong.Message, StringComparison.Ordinal);
        Assert.Equal(image.ConfigDigest, info.Id.ToString());
        Assert.Equal(1, front.TokensIssued);
    }

    [Fact]
    public async Task A_corrupted_blob_in_the_registry_is_refused_with_a_digest_error_and_nothing_is_stored()
    {
        using var registry = new RegistryServer(_dir.Combine("registry"));
        var (archive, _) = BusyboxArchive("v1");
        registry.Push(archive, "v1", "team/bad");
        var store = ImageStores.Open(_dir.Combine("store"));
        var layer = (await ImageStores.Open(_dir.Combine("probe")).PullAsync($"{registry.Host}/team/bad:v1")).Layers[0].Digest.ToString();
        var blob = registry.BlobFile(layer);
        var bytes = File.ReadAllBytes(blob);
        bytes[bytes.Length / 2] ^= 0xff;
        File.WriteAllBytes(blob, bytes);

        var e = await Assert.ThrowsAsync<IsolaException>(() => store.PullAsync($"{registry.Host}/team/bad:v1"));

        Assert.Equal(IsolaErrorCode.FailedPrecondition, e.Code);
        Assert.Contains(layer, e.Message, StringComparison.Ordinal);
        Assert.Contains("corrupted", e.Message, StringComparison.Ordinal);
        Assert.Empty(await store.ListAsync());
        foreach (var dir in new[] { "blobs/sha256", "snapshots", "ingest", "leases" })
        {
            Assert.Empty(Directory.EnumerateFileSystemEntries(_dir.Combine("store", dir)));
        }
    }

    [Fact]
    public async Task An_unknown_image_and_an_unreachable_registry_are_one_line_errors_naming_them()
    {
        using var registry = new RegistryServer(_dir.Combine("registry"));
        var store = ImageStores.Open(_dir.Combine("store"));
        var closed = $"127.0.0.1:{RegistryServer.FreePort()}";

        var unknown = await Assert.ThrowsAsync<IsolaException>(() => store.PullAsync($"{registry.Host}/no/such:v9"));
        var unreachable = await Assert.ThrowsAsync<IsolaException>(() => store.PullAsync($"{closed}/app:v1"));
        var malformed = await Assert.ThrowsAsync<IsolaException>(() => store.PullAsync("Not A Reference"));

        Assert.Equal(IsolaErrorCode.NotFound, unknown.Code);
        Assert.Contains($"{registry.Host}/no/such:v9", unknown.Message, StringComparison.Ordinal);
        Assert.Equal(IsolaErrorCode.Unavailable, unreachable.Code);
        Assert.Contains($"registry {closed}", unreachable.Message, StringComparison.Ordinal);
        Assert.Contains("connection refused", unreachable.Message, StringComparison.Ordinal);
        Assert.Equal(IsolaErrorCode.InvalidArgument, malformed.Code);
        Assert.All(new[] { unknown, unreachable, malformed }, x => Assert.DoesNotContain('\n', x.Message));
        Assert.Empty(Directory.EnumerateFileSystemEntries(_dir.Combine("store", "blobs", "sha256")));
    }

    private (string Archive, (string Digest, long Size, string ConfigDigest) Image) BusyboxArchive(string tag)
    {
        var builder = new OciArchiveBuilder();
        var image = builder.AddImage([builder.AddBusyboxLayer()], cmd: ["/bin/sh"]);
        builder.Name(image.Digest, image.Size, tag);
        return (builder.WriteArchive(_dir.Combine($"busybox-{Guid.NewGuid():N}.tar")), image);
    }

    private static RegistryOptions Credentials(string host, string password) => new()
    {
        Registries = { [host] = new RegistryHostOptions { Username = RegistryServer.User, Password = password } },
    };

    /// <summary>Progress&lt;T&gt; posts to the thread pool; the test wants every report before it looks.</summary>
    private sealed class SyncProgress(List<PullProgress> sink) : IProgress<PullProgress>
    {
        public void Report(PullProgress value)
        {
            lock (sink)
            {
                sink.Add(value);
            }
        }
    }
}
