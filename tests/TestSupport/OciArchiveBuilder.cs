using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Isola.TestSupport;

/// <summary>One entry of a test layer.</summary>
public sealed record LayerEntry(string Path, TarEntryType Type, string Content = "", string LinkName = "", UnixFileMode Mode = (UnixFileMode)0b111_101_101)
{
    public static LayerEntry Dir(string path) => new(path, TarEntryType.Directory);

    public static LayerEntry File(string path, string content, UnixFileMode mode = (UnixFileMode)0b110_100_100) => new(path, TarEntryType.RegularFile, content, Mode: mode);

    public static LayerEntry Symlink(string path, string target) => new(path, TarEntryType.SymbolicLink, LinkName: target);

    public static LayerEntry HardLink(string path, string target) => new(path, TarEntryType.HardLink, LinkName: target);
}

/// <summary>
/// Builds OCI image archives by hand, as reference/cri.md describes: gzip tar layers, a config with their diff ids and
/// run defaults, a manifest, an index naming the image, all content-addressed by sha256. Also a docker-save layout.
/// </summary>
public sealed class OciArchiveBuilder
{
    private readonly Dictionary<string, byte[]> _blobs = new(StringComparer.Ordinal);
    private readonly List<JsonObject> _index = [];

    /// <summary>A gzip layer from <paramref name="entries"/>; returns (digest, size, diff id).</summary>
    public (string Digest, long Size, string DiffId) AddLayer(IEnumerable<LayerEntry> entries, bool gzip = true, bool endBlocks = true)
    {
        var tar = Tar(entries);
        if (!endBlocks)
        {
            // As umoci writes layers: the last entry, then nothing.
            tar = tar[..^1024];
        }

        var blob = gzip ? Gzip(tar) : tar;
        return (Add(blob), blob.Length, Digest(tar));
    }

    /// <summary>A layer holding the static busybox as /bin/busybox and /bin/sh (a hard link).</summary>
    public (string Digest, long Size, string DiffId) AddBusyboxLayer()
    {
        var tar = new MemoryStream();
        using (var writer = new TarWriter(tar, TarEntryFormat.Pax, leaveOpen: true))
        {
            writer.WriteEntry(new PaxTarEntry(TarEntryType.Directory, "bin/") { Mode = (UnixFileMode)0b111_101_101 });
            writer.WriteEntry(new PaxTarEntry(TarEntryType.Directory, "tmp/") { Mode = (UnixFileMode)0b111_111_111 | UnixFileMode.StickyBit });
            writer.WriteEntry(new PaxTarEntry(TarEntryType.Directory, "work/") { Mode = (UnixFileMode)0b111_101_101 });
            using var busybox = System.IO.File.OpenRead("/bin/busybox");
            writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "bin/busybox") { Mode = (UnixFileMode)0b111_101_101, DataStream = busybox });
            writer.WriteEntry(new PaxTarEntry(TarEntryType.HardLink, "bin/sh") { LinkName = "bin/busybox", Mode = (UnixFileMode)0b111_101_101 });
        }

        var bytes = tar.ToArray();
        var blob = Gzip(bytes);
        return (Add(blob), blob.Length, Digest(bytes));
    }

    /// <summary>A layer compressed by <paramref name="compress"/> with <paramref name="mediaType"/> (zstd, say, which the
    /// BCL does not have: the caller brings the compressor).</summary>
    public (string Digest, long Size, string DiffId, string MediaType) AddCompressedLayer(IEnumerable<LayerEntry> entries, Func<byte[], byte[]> compress, string mediaType)
    {
        var tar = Tar(entries);
        var blob = compress(tar);
        return (Add(blob), blob.Length, Digest(tar), mediaType);
    }

    /// <summary>A gzip layer holding the tree under <paramref name="directory"/> (as <c>tar -C directory .</c>).</summary>
    public (string Digest, long Size, string DiffId) AddDirectoryLayer(string directory)
    {
        var tar = new MemoryStream();
        TarFile.CreateFromDirectory(directory, tar, includeBaseDirectory: false);
        var bytes = tar.ToArray();
        var blob = Gzip(bytes);
        return (Add(blob), blob.Length, Digest(bytes));
    }

    /// <summary>A config and manifest over <paramref name="layers"/>; returns the manifest's (digest, size) and the config digest.</summary>
    public (string Digest, long Size, string ConfigDigest) AddImage(
        IReadOnlyList<(string Digest, long Size, string DiffId)> layers, string architecture = "amd64",
        string[]? entrypoint = null, string[]? cmd = null, string[]? env = null, string workingDir = "", bool gzip = true, string? layerMediaType = null)
    {
        var config = new JsonObject
        {
            ["architecture"] = architecture,
            ["os"] = "linux",
            ["config"] = new JsonObject
            {
                ["Entrypoint"] = entrypoint is null ? null : new JsonArray([.. entrypoint.Select(e => (JsonNode)e)]),
                ["Cmd"] = cmd is null ? null : new JsonArray([.. cmd.Select(e => (JsonNode)e)]),
                ["Env"] = new JsonArray([.. (env ?? ["PATH=/bin"]).Select(e => (JsonNode)e)]),
                ["WorkingDir"] = workingDir,
            },
            ["rootfs"] = new JsonObject { ["type"] = "layers", ["diff_ids"] = new JsonArray([.. layers.Select(l => (JsonNode)l.DiffId)]) },
        };
        var configBytes = Encoding.UTF8.GetBytes(config.ToJsonString());
        var configDigest = Add(configBytes);
        var manifest = new JsonObject
        {
            ["schemaVersion"] = 2,
            ["mediaType"] = "application/vnd.oci.image.manifest.v1+json",
            ["config"] = new JsonObject { ["mediaType"] = "application/vnd.oci.image.config.v1+json", ["digest"] = configDigest, ["size"] = configBytes.Length },
            ["layers"] = new JsonArray([.. layers.Select(l => (JsonNode)new JsonObject
            {
                ["mediaType"] = layerMediaType ?? (gzip ? "application/vnd.oci.image.layer.v1.tar+gzip" : "application/vnd.oci.image.layer.v1.tar"),
                ["digest"] = l.Digest,
                ["size"] = l.Size,
            })]),
        };
        var bytes = Encoding.UTF8.GetBytes(manifest.ToJsonString());
        return (Add(bytes), bytes.Length, configDigest);
    }

    /// <summary>An image index over platform manifests; returns its (digest, size).</summary>
    public (string Digest, long Size) AddIndex(params (string Digest, long Size, string Architecture)[] manifests)
    {
        var index = new JsonObject
        {
            ["schemaVersion"] = 2,
            ["mediaType"] = "application/vnd.oci.image.index.v1+json",
            ["manifests"] = new JsonArray([.. manifests.Select(m => (JsonNode)new JsonObject
            {
                ["mediaType"] = "application/vnd.oci.image.manifest.v1+json",
                ["digest"] = m.Digest,
                ["size"] = m.Size,
                ["platform"] = new JsonObject { ["architecture"] = m.Architecture, ["os"] = "linux" },
            })]),
        };
        var bytes = Encoding.UTF8.GetBytes(index.ToJsonString());
        return (Add(bytes), bytes.Length);
    }

    /// <summary>Names a manifest (or index) in the archive's index.json with <c>org.opencontainers.image.ref.name</c>.</summary>
    public void Name(string digest, long size, string refName, bool isIndex = false) => _index.Add(new JsonObject
    {
        ["mediaType"] = isIndex ? "application/vnd.oci.image.index.v1+json" : "application/vnd.oci.image.manifest.v1+json",
        ["digest"] = digest,
        ["size"] = size,
        ["annotations"] = new JsonObject { ["org.opencontainers.image.ref.name"] = refName },
    });

    /// <summary>Writes the OCI layout as a directory (what umoci and skopeo's oci: transport read).</summary>
    public string WriteLayout(string dir)
    {
        Directory.CreateDirectory(Path.Combine(dir, "blobs", "sha256"));
        System.IO.File.WriteAllText(Path.Combine(dir, "oci-layout"), """{"imageLayoutVersion":"1.0.0"}""");
        System.IO.File.WriteAllText(Path.Combine(dir, "index.json"), IndexJson());
        foreach (var (digest, bytes) in _blobs)
        {
            System.IO.File.WriteAllBytes(Path.Combine(dir, "blobs", "sha256", digest["sha256:".Length..]), bytes);
        }

        return dir;
    }

    /// <summary>Writes the OCI archive (a tar of the layout); <paramref name="tamper"/> may change a blob's bytes.</summary>
    public string WriteArchive(string path, Func<string, byte[], byte[]>? tamper = null)
    {
        using var output = System.IO.File.Create(path);
        using var writer = new TarWriter(output, TarEntryFormat.Pax);
        Write(writer, "oci-layout", Encoding.UTF8.GetBytes("""{"imageLayoutVersion":"1.0.0"}"""));
        Write(writer, "index.json", Encoding.UTF8.GetBytes(IndexJson()));
        foreach (var (digest, bytes) in _blobs)
        {
            Write(writer, "blobs/sha256/" + digest["sha256:".Length..], tamper?.Invoke(digest, bytes) ?? bytes);
        }

        return path;
    }

    /// <summary>Writes a <c>docker save</c> archive: manifest.json with RepoTags, the config as HEX.json and each
    /// layer, uncompressed, as ID/layer.tar.</summary>
    public static string WriteDockerSave(string path, string repoTag, IReadOnlyList<LayerEntry[]> layers)
    {
        var tars = layers.Select(Tar).ToList();
        var config = new JsonObject
        {
            ["architecture"] = "amd64",
            ["os"] = "linux",
            ["config"] = new JsonObject { ["Cmd"] = new JsonArray("/bin/sh") },
            ["rootfs"] = new JsonObject { ["type"] = "layers", ["diff_ids"] = new JsonArray([.. tars.Select(t => (JsonNode)Digest(t))]) },
        };
        var configBytes = Encoding.UTF8.GetBytes(config.ToJsonString());
        var configName = Digest(configBytes)["sha256:".Length..] + ".json";
        var layerNames = tars.Select((t, i) => $"layer{i}/layer.tar").ToList();
        var manifest = new JsonArray(new JsonObject
        {
            ["Config"] = configName,
            ["RepoTags"] = new JsonArray(repoTag),
            ["Layers"] = new JsonArray([.. layerNames.Select(n => (JsonNode)n)]),
        });
        using var output = System.IO.File.Create(path);
        using var writer = new TarWriter(output, TarEntryFormat.Pax);
        Write(writer, configName, configBytes);
        for (var i = 0; i < tars.Count; i++)
        {
            Write(writer, layerNames[i], tars[i]);
        }

        Write(writer, "manifest.json", Encoding.UTF8.GetBytes(manifest.ToJsonString()));
        return path;
    }

    public static string Digest(byte[] bytes) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(bytes));

    private string IndexJson() => new JsonObject { ["schemaVersion"] = 2, ["manifests"] = new JsonArray([.. _index.Select(n => n.DeepClone())]) }.ToJsonString();

    private string Add(byte[] bytes)
    {
        var digest = Digest(bytes);
        _blobs[digest] = bytes;
        return digest;
    }

    private static byte[] Tar(IEnumerable<LayerEntry> entries)
    {
        var tar = new MemoryStream();
        using (var writer = new TarWriter(tar, TarEntryFormat.Pax, leaveOpen: true))
        {
            foreach (var e in entries)
            {
                var entry = new PaxTarEntry(e.Type, e.Path) { Mode = e.Mode, ModificationTime = new DateTimeOffset(2024, 1, 2, 3, 4, 5, TimeSpan.Zero) };
                if (e.Type is TarEntryType.SymbolicLink or TarEntryType.HardLink)
                {
                    entry.LinkName = e.LinkName;
                }

                if (e.Type == TarEntryType.RegularFile)
                {
                    entry.DataStream = new MemoryStream(Encoding.UTF8.GetBytes(e.Content));
                }

                writer.WriteEntry(entry);
            }
        }

        return tar.ToArray();
    }

    private static byte[] Gzip(byte[] data)
    {
        var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true))
        {
            gzip.Write(data);
        }

        return output.ToArray();
    }

    private static void Write(TarWriter writer, string name, byte[] bytes) =>
        writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, name) { Mode = (UnixFileMode)0b110_100_100, DataStream = new MemoryStream(bytes) });
}
