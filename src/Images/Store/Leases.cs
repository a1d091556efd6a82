using System.Text.Json;
using Isola.Images.Content;

namespace Isola.Images.Store;

/// <summary>
/// What the collector must keep although no image record names it: blobs a pull in progress has fetched
/// (<c>pull-PID-…</c>, void once that process is gone) and the layers a container's rootfs is made of
/// (<c>container-ID</c>, released when the container is removed), so removing an image never pulls the floor from
/// under a running container.
/// </summary>
internal sealed class Leases(string directory)
{
    internal sealed record Lease(int? Pid, List<Digest> Blobs, List<Digest> Snapshots, string? Holder = null);

    public string Directory { get; } = directory;

    public void Write(string name, Lease lease)
    {
        System.IO.Directory.CreateDirectory(Directory);
        var path = Path.Combine(Directory, name + ".json");
        var temp = path + ".tmp";
        File.WriteAllBytes(temp, JsonSerializer.SerializeToUtf8Bytes(lease));
        File.Move(temp, path, overwrite: true);
    }

    public void Delete(string name) => File.Delete(Path.Combine(Directory, name + ".json"));

    /// <summary>Live leases; a pull lease whose process is gone is deleted on the way.</summary>
    public IEnumerable<Lease> ReadLive()
    {
        if (!System.IO.Directory.Exists(Directory))
        {
            yield break;
        }

        foreach (var file in System.IO.Directory.EnumerateFiles(Directory, "*.json"))
        {
            Lease? lease;
            try
            {
                lease = JsonSerializer.Deserialize<Lease>(File.ReadAllBytes(file));
            }
            catch (Exception e) when (e is JsonException or IOException)
            {
                continue;
            }

            if (lease is null)
            {
                continue;
            }

            if (lease.Pid is { } pid && !ProcessIsAlive(pid))
            {
                File.Delete(file);
                continue;
            }

            yield return lease;
        }
    }

    public static bool ProcessIsAlive(int pid) => System.IO.Directory.Exists($"/proc/{pid}");
}
