using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Isola.Images.Store;

/// <summary>Image records, one JSON file per reference under <c>refs/</c>, named by the reference's hash so any
/// reference is a safe file name; written atomically (temporary file, then rename).</summary>
internal sealed class ImageRecords(string directory)
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    public void Write(ImageInfo image)
    {
        Directory.CreateDirectory(directory);
        var path = PathOf(image.Reference);
        var temp = path + "." + Environment.ProcessId + ".tmp";
        File.WriteAllBytes(temp, JsonSerializer.SerializeToUtf8Bytes(image, Json));
        File.Move(temp, path, overwrite: true);
    }

    public ImageInfo? Read(string reference)
    {
        var path = PathOf(reference);
        return File.Exists(path) ? Parse(path) : null;
    }

    public bool Delete(string reference)
    {
        var path = PathOf(reference);
        if (!File.Exists(path))
        {
            return false;
        }

        File.Delete(path);
        return true;
    }

    public IReadOnlyList<ImageInfo> List() =>
        Directory.Exists(directory)
            ? [.. Directory.EnumerateFiles(directory, "*.json").Select(Parse).OfType<ImageInfo>().OrderBy(i => i.Reference, StringComparer.Ordinal)]
            : [];

    private static ImageInfo? Parse(string path)
    {
        try
        {
            return JsonSerializer.Deserialize<ImageInfo>(File.ReadAllBytes(path), Json);
        }
        catch (JsonException e)
        {
            throw IsolaException.Internal($"image record {path} is damaged ({e.Message}); delete it and pull the image again", e);
        }
    }

    private string PathOf(string reference) =>
        Path.Combine(directory, Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(reference))) + ".json");
}
