using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using Isola.Images.Content;
using Isola.Images.Oci;

namespace Isola.Images.Unpack;

/// <summary>
/// Unpacks one layer into its own directory in the form overlayfs reads as a lower layer: a <c>.wh.NAME</c> entry
/// becomes a 0/0 character device NAME, <c>.wh..wh..opq</c> marks its directory with <c>trusted.overlay.opaque=y</c>.
/// Entries may not leave the directory: <c>..</c> components are refused, and no entry is written through a symbolic
/// link an earlier entry made. The uncompressed stream's digest is returned, to be checked against the config's diff id.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
internal static class LayerUnpacker
{
    private const string WhiteoutPrefix = ".wh.";
    private const string OpaqueMarker = ".wh..wh..opq";

    public static async Task<Digest> UnpackAsync(Stream compressed, LayerCompression compression, string target, string origin, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(target);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        await using (var tar = Decompress(compressed, compression))
        await using (var hashing = new HashingReadStream(tar, hash))
        {
            var reader = new TarReader(hashing, leaveOpen: true);
            while (await NextAsync(reader, cancellationToken).ConfigureAwait(false) is { } entry)
            {
                await ApplyAsync(entry, target, origin, cancellationToken).ConfigureAwait(false);
            }

            // A tar stream may end before its padding: read to the end so the diff id covers every byte.
            await hashing.CopyToAsync(Stream.Null, cancellationToken).ConfigureAwait(false);
        }

        // Drain the compressed blob too, so its own digest check (a VerifyingStream) runs.
        await compressed.CopyToAsync(Stream.Null, cancellationToken).ConfigureAwait(false);
        return Digest.FromHash(hash.GetHashAndReset());
    }

    /// <summary>The next entry, or null at the end. Some writers (umoci among them) end a layer right after its last
    /// entry, without the two zero blocks the format asks for; .NET reports that as the end of the stream mid-header.
    /// The diff id check still covers every byte.</summary>
    private static async Task<TarEntry?> NextAsync(TarReader reader, CancellationToken cancellationToken)
    {
        try
        {
            return await reader.GetNextEntryAsync(copyData: false, cancellationToken).ConfigureAwait(false);
        }
        catch (EndOfStreamException)
        {
            return null;
        }
    }

    private static Stream Decompress(Stream compressed, LayerCompression compression) => compression switch
    {
        LayerCompression.Gzip => new GZipStream(compressed, CompressionMode.Decompress, leaveOpen: true),
        LayerCompression.Zstd => new ZstdSharp.DecompressionStream(compressed, leaveOpen: true),
        _ => new NonClosingStream(compressed),
    };

    private static async Task ApplyAsync(TarEntry entry, string root, string origin, CancellationToken cancellationToken)
    {
        var relative = Normalise(entry.Name, origin);
        if (relative.Length == 0)
        {
            return;
        }

        var name = Path.GetFileName(relative);
        var parentRelative = Path.GetDirectoryName(relative) ?? "";
        var parent = SafeParent(root, parentRelative, origin, entry.Name);
        if (name == OpaqueMarker)
        {
            LibC.Check(LibC.Lsetxattr(parent, "trusted.overlay.opaque", "y"u8.ToArray(), 1, 0), "mark opaque", parent);
            return;
        }

        if (name.StartsWith(WhiteoutPrefix, StringComparison.Ordinal))
        {
            var hidden = Path.Combine(parent, name[WhiteoutPrefix.Length..]);
            RemoveExisting(hidden);
            LibC.Check(LibC.Mknod(hidden, LibC.S_IFCHR, 0), "whiteout", hidden);
            return;
        }

        var path = Path.Combine(parent, name);
        if (entry.EntryType == TarEntryType.Directory)
        {
            if (new FileInfo(path).LinkTarget is not null || !Directory.Exists(path))
            {
                RemoveExisting(path);
                Directory.CreateDirectory(path);
            }
        }
        else
        {
            RemoveExisting(path);
            switch (entry.EntryType)
            {
                case TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.ContiguousFile:
                    await using (var output = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.Asynchronous))
                    {
                        if (entry.DataStream is { } data)
                        {
                            await data.CopyToAsync(output, 128 * 1024, cancellationToken).ConfigureAwait(false);
                        }
                    }

                    break;
                case TarEntryType.SymbolicLink:
                    File.CreateSymbolicLink(path, entry.LinkName);
                    break;
                case TarEntryType.HardLink:
                    var linkTarget = Path.Combine(SafeParent(root, Path.GetDirectoryName(Normalise(entry.LinkName, origin)) ?? "", origin, entry.LinkName),
                        Path.GetFileName(Normalise(entry.LinkName, origin)));
                    LibC.Check(LibC.Link(linkTarget, path), "hard link", path);
                    break;
                case TarEntryType.CharacterDevice or TarEntryType.BlockDevice when entry is PosixTarEntry device:
                    var type = entry.EntryType == TarEntryType.CharacterDevice ? LibC.S_IFCHR : LibC.S_IFBLK;
                    LibC.Check(LibC.Mknod(path, type, LibC.MakeDev(device.DeviceMajor, device.DeviceMinor)), "device node", path);
                    break;
                case TarEntryType.Fifo:
                    LibC.Check(LibC.Mknod(path, LibC.S_IFIFO, 0), "fifo", path);
                    break;
                default:
                    throw IsolaException.InvalidArgument($"layer {origin}: entry '{entry.Name}' has type {entry.EntryType}, which an image layer cannot hold");
            }
        }

        if (entry.EntryType == TarEntryType.HardLink)
        {
            return;
        }

        if (entry is PosixTarEntry posix)
        {
            LibC.Check(LibC.Lchown(path, posix.Uid, posix.Gid), "chown", path);
        }

        if (entry is PaxTarEntry pax)
        {
            foreach (var (key, value) in pax.ExtendedAttributes)
            {
                if (key.StartsWith("SCHILY.xattr.", StringComparison.Ordinal))
                {
                    var bytes = Encoding.Latin1.GetBytes(value);
                    LibC.Check(LibC.Lsetxattr(path, key["SCHILY.xattr.".Length..], bytes, (nuint)bytes.Length, 0), "xattr", path);
                }
            }
        }

        if (entry.EntryType != TarEntryType.SymbolicLink)
        {
            // After chown, which clears set-id bits.
            LibC.Check(LibC.Chmod(path, (uint)entry.Mode & 0xfff), "chmod", path);
            File.SetLastWriteTimeUtc(path, entry.ModificationTime.UtcDateTime);
        }
    }

    /// <summary>The entry's path relative to the layer root, "" for the root itself; <c>..</c> is refused.</summary>
    private static string Normalise(string name, string origin)
    {
        var parts = new List<string>();
        foreach (var part in name.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            if (part == "..")
            {
                throw IsolaException.InvalidArgument($"layer {origin}: entry '{name}' climbs out of the layer with '..'");
            }

            if (part != ".")
            {
                parts.Add(part);
            }
        }

        return string.Join('/', parts);
    }

    /// <summary>The directory an entry goes in, created as needed, with no symbolic link on the way (an earlier
    /// entry could have made one pointing anywhere on the host).</summary>
    private static string SafeParent(string root, string relative, string origin, string entryName)
    {
        var current = root;
        foreach (var part in relative.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            current = Path.Combine(current, part);
            var info = new DirectoryInfo(current);
            if (info.LinkTarget is not null)
            {
                throw IsolaException.InvalidArgument($"layer {origin}: entry '{entryName}' goes through the symbolic link '{part}', which could lead outside the layer");
            }

            if (!info.Exists)
            {
                if (File.Exists(current))
                {
                    throw IsolaException.InvalidArgument($"layer {origin}: entry '{entryName}' needs '{part}' to be a directory, but the layer made it a file");
                }

                Directory.CreateDirectory(current);
            }
        }

        return current;
    }

    /// <summary>Clears <paramref name="path"/> for a new entry: a later entry of a layer replaces an earlier one.</summary>
    private static void RemoveExisting(string path)
    {
        if (new FileInfo(path).LinkTarget is not null)
        {
            File.Delete(path);
        }
        else if (Directory.Exists(path))
        {
            Directory.Delete(path, recursive: true);
        }
        else if (File.Exists(path))
        {
            File.Delete(path);
        }
    }
}
